-- The transactional outbox of login events (docs/adr/0007-login-event-outbox.md): a successful credential
-- check records the login (users.last_login_at) and its user_login_event in one transaction; the relay
-- (users_service.relay) publishes pending rows to RabbitMQ in id order and marks them sent.
ALTER TABLE users ADD COLUMN last_login_at TIMESTAMPTZ;
CREATE TABLE login_outbox (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    UUID NOT NULL DEFAULT gen_random_uuid(),
    -- No foreign key: the event of a login stays deliverable when the account is deleted right after.
    user_id     BIGINT NOT NULL,
    email       TEXT NOT NULL,
    source_ip   TEXT,
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at     TIMESTAMPTZ,
    CONSTRAINT login_outbox_event_id_key UNIQUE (event_id)
);
-- Pending rows in id order (the relay's scan, the bound's oldest and newest pending id).
CREATE INDEX login_outbox_pending_idx ON login_outbox (id) WHERE sent_at IS NULL;
-- Sent rows by age (the retention purge).
CREATE INDEX login_outbox_sent_idx ON login_outbox (sent_at) WHERE sent_at IS NOT NULL;

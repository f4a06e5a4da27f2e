"""The login-event outbox in users' database (docs/adr/0007-login-event-outbox.md).

A successful credential check is the login: `record_login` sets `users.last_login_at` and inserts the
login's `user_login_event` in one transaction, so an event exists exactly when a login was granted, whether
or not RabbitMQ is there. `users_service.relay` publishes the pending rows and marks them sent.

Order. Ids come from a sequence, but transactions commit in any order: a relay reading "pending rows by
id" could see id 11 before id 10 commits. Every recording transaction therefore holds `BARRIER_LOCK`
shared; the relay takes it exclusively for a moment, which waits for every transaction that already drew
an id. Rows up to the highest id it then sees are final, and the relay publishes only those, in id order.

The bound. The relay publishes a prefix of the ids, so the pending rows are the ids after the last one
sent: their number is newest pending id - oldest pending id + 1, two index lookups however long the
backlog. An id drawn by a transaction that rolled back counts too, so the figure errs on the high side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Gauge
from psycopg import Connection
from psycopg.rows import dict_row
from service_common.metrics import service_metrics

RELAY_LOCK = 0x6F757472  # "outr": one relay pass at a time, across every users-ms process
BARRIER_LOCK = 0x6F757462  # "outb": recording transactions (shared) against the relay's ordering barrier

PENDING_RANGE = "SELECT min(id), max(id) FROM login_outbox WHERE sent_at IS NULL"
BACKLOG = (
    "SELECT min(id), max(id), (SELECT extract(epoch FROM clock_timestamp() - occurred_at) FROM login_outbox"
    " WHERE sent_at IS NULL ORDER BY id LIMIT 1) FROM login_outbox WHERE sent_at IS NULL"
)

REGISTRY = service_metrics("users-ms").registry
PENDING = Gauge(
    "users_login_events_pending",
    "Login events in the outbox not yet confirmed by RabbitMQ (the database's figure, as this process last "
    "read it)",
    registry=REGISTRY,
)
OLDEST_PENDING_SECONDS = Gauge(
    "users_login_events_oldest_pending_seconds",
    "Age of the oldest pending login event, 0 when none is pending",
    registry=REGISTRY,
)
MAX_PENDING = Gauge(
    "users_login_events_max_pending",
    "The outbox bound (USERS_OUTBOX_MAX_PENDING): with this many events pending, logins are refused (503)",
    registry=REGISTRY,
)
PUBLISHED = Counter(
    "users_login_events_published_total",
    "Login events this process published (RabbitMQ confirmed them) and marked sent",
    registry=REGISTRY,
)
PUBLISH_FAILURES = Counter(
    "users_login_events_publish_failures_total",
    "Relay attempts of this process that failed (RabbitMQ unreachable, no confirm in time, unroutable); "
    "the events stay pending and are retried",
    registry=REGISTRY,
)
REFUSED = Counter(
    "users_login_events_refused_total",
    "Logins refused with 503 because the outbox held USERS_OUTBOX_MAX_PENDING events",
    registry=REGISTRY,
)


class OutboxFull(Exception):
    """The outbox holds `max_pending` events: the login is refused, nothing is dropped."""

    def __init__(self, pending: int) -> None:
        super().__init__(f"{pending} login events pending")
        self.pending = pending


@dataclass(frozen=True)
class Backlog:
    """What the metrics show: pending events and the age of the oldest (0 when none), by the database's
    clock."""

    pending: int
    oldest_seconds: float


def pending_from_range(oldest_id: int | None, newest_id: int | None) -> int:
    return 0 if oldest_id is None or newest_id is None else int(newest_id) - int(oldest_id) + 1


def record_login(
    conn: Connection[Any], user_id: int, source_ip: str | None, max_pending: int
) -> dict[str, Any] | None:
    """Record a granted login and its event in one transaction; the user's (email, role), or None when
    the account is gone since the credential check. OutboxFull when the bound is reached."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (BARRIER_LOCK,))
        oldest_id, newest_id = conn.execute(PENDING_RANGE).fetchone() or (None, None)
        pending = pending_from_range(oldest_id, newest_id)
        if pending >= max_pending:
            raise OutboxFull(pending)
        cur = conn.cursor(row_factory=dict_row)
        user = cur.execute(
            "UPDATE users SET last_login_at = now() WHERE id = %s RETURNING id, email, role", (user_id,)
        ).fetchone()
        if user is None:
            return None
        cur.execute(
            "INSERT INTO login_outbox (user_id, email, source_ip) VALUES (%s, %s, %s)",
            (user_id, user["email"], source_ip),
        )
    return user


def event_body(row: dict[str, Any]) -> dict[str, Any]:
    """The event as docs/architecture.md defines it, from an outbox row."""
    occurred: datetime = row["occurred_at"]
    return {
        "event_id": str(row["event_id"]),
        "user_id": int(row["user_id"]),
        "email": str(row["email"]),
        "occurred_at": occurred.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "source_ip": row["source_ip"],
    }

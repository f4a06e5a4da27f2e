"""The login-event outbox on a real PostgreSQL database and a real RabbitMQ vhost (behind a TCP gate that
takes the broker away and brings it back): logins are recorded with their event whatever the broker does,
pending events go out once each in id order when it is back, one relay pass at a time, and the bound
refuses logins instead of dropping events."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from typing import Any

import aio_pika
import psycopg
import pytest
from users_service import outbox
from users_service.relay import BrokerUnavailable, Relay
from users_service.settings import Settings

from services.conftest import Database, amqp_bind_queue, own_database
from services.tcp_gate import TcpGate

QUEUE = "outbox-probe"


@pytest.fixture(scope="module")
def database(postgres_dsn: str) -> Iterator[Database]:
    with own_database(postgres_dsn, "users_outbox") as db:
        yield db


@pytest.fixture(scope="module")
def broker(vhosts, rabbit_credentials) -> Iterator[dict[str, Any]]:
    """A vhost with a queue bound to the exchange (so events are routable and can be read back in order),
    reached through a gate."""
    vhost = vhosts.new("outbox")
    amqp_bind_queue(vhosts.url(vhost), "user_login_event", QUEUE)
    gate = TcpGate(rabbit_credentials["host"], int(rabbit_credentials["port"])).open()
    yield {"vhost": vhost, "url": vhosts.url(vhost), "gate": gate}
    gate.close()


def conninfo(db: Database) -> str:
    return psycopg.conninfo.make_conninfo(host=db.host, port=db.port, dbname=db.name, user=db.user)


def settings(db: Database, broker: dict[str, Any], rabbit: dict[str, str], **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "db_host": db.host,
        "db_port": db.port,
        "db_name": db.name,
        "db_user": db.user,
        "rabbitmq_host": "127.0.0.1",
        "rabbitmq_port": broker["gate"].port,
        "rabbitmq_vhost": broker["vhost"],
        "rabbitmq_username_file": rabbit["username_file"],
        "rabbitmq_password_file": rabbit["password_file"],
        "publish_timeout_seconds": 2,
        **overrides,
    }
    return Settings(**values)


def new_user(db: Database) -> int:
    with psycopg.connect(conninfo(db)) as conn:
        row = conn.execute(
            "INSERT INTO users (name, surname, email, password_hash) VALUES ('A', 'B', %s, 'x') RETURNING id",
            (f"outbox.{secrets.token_hex(6)}@example.org",),
        ).fetchone()
    assert row is not None
    return int(row[0])


def login(db: Database, user_id: int, max_pending: int = 1000) -> dict[str, Any] | None:
    with psycopg.connect(conninfo(db)) as conn:
        return outbox.record_login(conn, user_id, "192.0.2.7", max_pending)


def outbox_rows(db: Database) -> list[tuple[int, str, bool]]:
    """(id, event id, sent) of every row, in id order."""
    with psycopg.connect(conninfo(db)) as conn:
        rows = conn.execute("SELECT id, event_id::text, sent_at IS NOT NULL FROM login_outbox ORDER BY id")
        return [(int(r[0]), str(r[1]), bool(r[2])) for r in rows]


async def read_queue(url: str) -> list[dict[str, Any]]:
    """Every message waiting in the probe queue, in queue order (acked)."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(QUEUE)
        bodies: list[dict[str, Any]] = []
        while (message := await queue.get(fail=False)) is not None:
            await message.ack()
            assert message.message_id is not None
            bodies.append({**json.loads(message.body), "message_id": message.message_id})
        return bodies


def drain_queue(url: str) -> list[dict[str, Any]]:
    return asyncio.run(read_queue(url))


def sample(name: str) -> float:
    return outbox.REGISTRY.get_sample_value(name) or 0.0


@pytest.fixture
def clean(database: Database, broker: dict[str, Any]) -> Iterator[None]:
    """Every test starts and ends with an empty outbox and probe queue and an open gate."""
    if not broker["gate"].is_open:
        broker["gate"].open()
    with psycopg.connect(conninfo(database)) as conn:
        conn.execute("DELETE FROM login_outbox")
    drain_queue(broker["url"])
    yield
    if not broker["gate"].is_open:
        broker["gate"].open()


def test_login_is_recorded_with_its_event(database, clean) -> None:
    user_id = new_user(database)
    user = login(database, user_id)
    assert user is not None and user["id"] == user_id
    with psycopg.connect(conninfo(database)) as conn:
        last_login = conn.execute("SELECT last_login_at FROM users WHERE id = %s", (user_id,)).fetchone()
        events = conn.execute("SELECT user_id, email, source_ip, sent_at FROM login_outbox").fetchall()
        conn.execute("DELETE FROM users WHERE id = %s", (user_id,))
    assert last_login is not None and last_login[0] is not None
    assert events == [(user_id, user["email"], "192.0.2.7", None)]
    assert login(database, user_id) is None, "a deleted account's login is no login"
    assert len(outbox_rows(database)) == 1


def test_outage_then_every_event_published_once_in_order(database, broker, rabbit_credentials, clean) -> None:
    """Broker down: logins are recorded, the relay fails and counts it, nothing is lost. Back: every
    pending event is published once, in id order, and marked sent."""
    relay = Relay(settings(database, broker, rabbit_credentials, outbox_batch_size=4))
    users = [new_user(database) for _ in range(3)]
    published_before = sample("users_login_events_published_total")
    failures_before = sample("users_login_events_publish_failures_total")

    async def scenario() -> tuple[int, int]:
        broker["gate"].close()
        for user_id in users * 3:  # 9 logins while RabbitMQ is away
            assert login(database, user_id) is not None
        with pytest.raises(BrokerUnavailable):
            await relay.pass_once()
        assert sample("users_login_events_pending") == 9
        assert sample("users_login_events_oldest_pending_seconds") >= 0
        assert sample("users_login_events_publish_failures_total") == failures_before + 1
        assert await read_queue(broker["url"]) == []
        broker["gate"].open()
        passes = [await relay.pass_once() for _ in range(4)]  # 4 + 4 + 1 + 0
        again = await relay.pass_once()
        await relay.close()
        return sum(passes), again

    published, again = asyncio.run(scenario())
    assert (published, again) == (9, 0)
    rows = outbox_rows(database)
    assert all(sent for _, _, sent in rows)
    messages = drain_queue(broker["url"])
    assert [m["event_id"] for m in messages] == [event_id for _, event_id, _ in rows], (
        "not once each, in order"
    )
    assert all(m["message_id"] == m["event_id"] for m in messages)
    assert [m["user_id"] for m in messages] == users * 3
    assert {m["source_ip"] for m in messages} == {"192.0.2.7"}
    assert all(m["occurred_at"].endswith("Z") for m in messages)
    assert sample("users_login_events_published_total") == published_before + 9
    assert sample("users_login_events_pending") == 0


def test_concurrent_relays_publish_each_event_once(database, broker, rabbit_credentials, clean) -> None:
    """Two relays (two pods) racing pass after pass: the lock lets one pass run at a time."""
    user_id = new_user(database)
    for _ in range(20):
        login(database, user_id)
    relays = [Relay(settings(database, broker, rabbit_credentials, outbox_batch_size=3)) for _ in range(2)]

    async def race() -> int:
        total = 0
        for _ in range(12):
            total += sum(await asyncio.gather(*(relay.pass_once() for relay in relays)))
        for relay in relays:
            await relay.close()
        return total

    assert asyncio.run(race()) == 20
    rows = outbox_rows(database)
    assert [m["event_id"] for m in drain_queue(broker["url"])] == [event_id for _, event_id, _ in rows]


def test_a_login_committing_late_is_still_published_in_id_order(
    database, broker, rabbit_credentials, clean
) -> None:
    """Login A draws the lower id but commits after login B: the relay waits for A at its barrier instead
    of publishing B first."""
    first, second = new_user(database), new_user(database)
    relay = Relay(settings(database, broker, rabbit_credentials))
    slow = psycopg.connect(conninfo(database))
    slow.execute("SELECT pg_advisory_xact_lock_shared(%s)", (outbox.BARRIER_LOCK,))
    slow.execute("INSERT INTO login_outbox (user_id, email) VALUES (%s, 'slow@example.org')", (first,))
    login(database, second)  # committed, with the higher id

    async def scenario() -> int:
        task = asyncio.create_task(relay.pass_once())
        await asyncio.sleep(0.5)
        assert not task.done(), "the relay did not wait for the login in flight"
        slow.commit()
        published = await task
        await relay.close()
        return published

    try:
        assert asyncio.run(scenario()) == 2
    finally:
        slow.close()
    assert [m["user_id"] for m in drain_queue(broker["url"])] == [first, second]


def test_bound_refuses_logins_and_drops_nothing(database, broker, rabbit_credentials, clean) -> None:
    user_id = new_user(database)
    broker["gate"].close()
    for _ in range(3):
        assert login(database, user_id, max_pending=3) is not None
    with psycopg.connect(conninfo(database)) as conn:
        before = conn.execute("SELECT last_login_at FROM users WHERE id = %s", (user_id,)).fetchone()
    with pytest.raises(outbox.OutboxFull) as full:
        login(database, user_id, max_pending=3)
    assert full.value.pending == 3
    with psycopg.connect(conninfo(database)) as conn:
        after = conn.execute("SELECT last_login_at FROM users WHERE id = %s", (user_id,)).fetchone()
    assert after == before, "a refused login changed the account"
    assert len(outbox_rows(database)) == 3
    broker["gate"].open()

    async def drain() -> int:
        relay = Relay(settings(database, broker, rabbit_credentials, outbox_retention_seconds=0))
        published = await relay.pass_once()
        await relay.close()
        return published

    assert asyncio.run(drain()) == 3
    assert login(database, user_id, max_pending=3) is not None, "drained: logins are admitted again"
    assert len(drain_queue(broker["url"])) == 3
    # a relay purges at its first pass: sent rows older than the retention (0 s here) go, pending ones stay
    assert asyncio.run(drain()) == 1
    assert [sent for _, _, sent in outbox_rows(database)] == [True]


def test_back_off_doubles_up_to_its_cap(database, broker, rabbit_credentials) -> None:
    relay = Relay(settings(database, broker, rabbit_credentials, outbox_poll_seconds=0.5))
    delays = []
    for failures in (0, 1, 2, 6, 100_000):  # a days-long outage does not overflow
        relay._failures = failures
        delays.append(relay._delay())
    assert delays == [0.5, 1.0, 2.0, 30.0, 30.0]

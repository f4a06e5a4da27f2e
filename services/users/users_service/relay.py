"""Publishes the login-event outbox to RabbitMQ (docs/adr/0007-login-event-outbox.md).

Every users-ms process runs a relay; the advisory lock `outbox.RELAY_LOCK` lets one pass run at a time,
whichever process gets it. A pass connects to RabbitMQ first (a process that cannot reach it never holds
the lock), waits at the ordering barrier (outbox module docstring), then, holding the lock in one
transaction, reads up to `outbox_batch_size` pending rows in id order, publishes each to the durable fanout
exchange `user_login_event` (persistent, mandatory, one publisher confirm each), marks the confirmed ones
sent and commits. A failure (RabbitMQ away, no confirm in time, unroutable) ends the pass with the rest
still pending; the relay waits the poll interval, doubled per failure up to `outbox_retry_max_seconds`.

At least once, effectively exactly once: a crash between a confirm and the commit publishes that event
again on the next pass with the same event id (also the message id), and notifications-ms keeps one
record per event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import aio_pika
import psycopg
from aio_pika.abc import AbstractConnection, AbstractExchange
from psycopg.rows import dict_row
from service_common.settings import SettingsError

from users_service import outbox
from users_service.settings import Settings

EXCHANGE = "user_login_event"
PURGE_EVERY_SECONDS = 60.0
PURGE_ROWS = 10_000  # sent rows deleted per purge at most (a short transaction)
log = logging.getLogger("users.relay")


class BrokerUnavailable(RuntimeError):
    """RabbitMQ could not take (or confirm) an event; the event stays pending."""


class Relay:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._db: psycopg.AsyncConnection[Any] | None = None
        self._connection: AbstractConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._stopping = asyncio.Event()
        self._purged_at = -PURGE_EVERY_SECONDS
        self._failures = 0
        self._backlog = outbox.Backlog(0, 0.0)
        outbox.MAX_PENDING.set(settings.outbox_max_pending)

    async def run(self) -> None:
        """Passes until `stop()`: right away while full batches go out, else after the poll interval, or
        after the back-off while passes fail."""
        while not self._stopping.is_set():
            published = 0
            try:
                published = await self.pass_once()
                if self._failures:
                    log.info(
                        "login events flowing again", extra={"fields": {"after_failures": self._failures}}
                    )
                self._failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away, unreadable secret: retried after a back-off
                self._failures += 1
                await self._after_failure(exc)
            if published >= self.settings.outbox_batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._delay())
        await self.close()

    def _delay(self) -> float:
        """The poll interval, doubled per failure in a row up to the retry cap."""
        poll = self.settings.outbox_poll_seconds
        doubled = poll * 2 ** min(self._failures, 30)  # a days-long outage must not overflow the float
        return min(doubled, max(poll, self.settings.outbox_retry_max_seconds))

    async def stop(self) -> None:
        self._stopping.set()

    async def pass_once(self) -> int:
        """One relay pass; the number of events published. BrokerUnavailable when RabbitMQ failed (what
        was confirmed before is marked sent)."""
        db = await self._database()
        backlog = await self._show_backlog(db)
        purge_due = time.monotonic() - self._purged_at >= PURGE_EVERY_SECONDS
        if not backlog.pending and not purge_due:
            return 0
        exchange = await self._exchange_ready() if backlog.pending else None
        upto = await self._barrier(db) if exchange is not None else 0
        published: list[int] = []
        failure: Exception | None = None
        async with db.transaction():
            locked = await (
                await db.execute("SELECT pg_try_advisory_xact_lock(%s)", (outbox.RELAY_LOCK,))
            ).fetchone()
            if not locked or not locked[0]:
                return 0  # another process's pass runs now
            if purge_due:
                await self._purge(db)
            if exchange is None:
                return 0
            cur = db.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT id, event_id, user_id, email, occurred_at, source_ip FROM login_outbox"
                " WHERE sent_at IS NULL AND id <= %s ORDER BY id LIMIT %s",
                (upto, self.settings.outbox_batch_size),
            )
            for row in await cur.fetchall():
                try:
                    await self._publish(exchange, outbox.event_body(row))
                except Exception as exc:  # the rest of the batch stays pending
                    failure = exc
                    break
                published.append(int(row["id"]))
            if published:
                await db.execute(
                    "UPDATE login_outbox SET sent_at = clock_timestamp() WHERE id = ANY(%s)", (published,)
                )
        outbox.PUBLISHED.inc(len(published))
        if failure is not None:
            outbox.PUBLISH_FAILURES.inc()
            raise BrokerUnavailable(type(failure).__name__) from failure
        if published:
            log.debug(
                "login events published",
                extra={"fields": {"count": len(published), "last_id": published[-1]}},
            )
            await self._show_backlog(db)
        return len(published)

    async def _show_backlog(self, db: psycopg.AsyncConnection[Any]) -> outbox.Backlog:
        row = await (await db.execute(outbox.BACKLOG)).fetchone()
        oldest_id, newest_id, age = row if row else (None, None, None)
        backlog = outbox.Backlog(outbox.pending_from_range(oldest_id, newest_id), float(age or 0.0))
        outbox.PENDING.set(backlog.pending)
        outbox.OLDEST_PENDING_SECONDS.set(backlog.oldest_seconds)
        self._backlog = backlog
        return backlog

    async def _barrier(self, db: psycopg.AsyncConnection[Any]) -> int:
        """Wait for the recording transactions in flight; every id up to the returned one is final."""
        async with db.transaction():
            await db.execute("SET LOCAL lock_timeout = '5s'")  # a recording transaction is a few statements
            await db.execute("SELECT pg_advisory_xact_lock(%s)", (outbox.BARRIER_LOCK,))
            row = await (await db.execute("SELECT coalesce(max(id), 0) FROM login_outbox")).fetchone()
        return int(row[0]) if row else 0

    async def _purge(self, db: psycopg.AsyncConnection[Any]) -> None:
        await db.execute(
            "DELETE FROM login_outbox WHERE id IN (SELECT id FROM login_outbox"
            " WHERE sent_at < clock_timestamp() - make_interval(secs => %s) LIMIT %s)",
            (self.settings.outbox_retention_seconds, PURGE_ROWS),
        )
        self._purged_at = time.monotonic()

    async def _publish(self, exchange: AbstractExchange, event: dict[str, Any]) -> None:
        message = aio_pika.Message(
            json.dumps(event).encode(),
            content_type="application/json",
            message_id=str(event["event_id"]),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        # mandatory: an event no queue takes comes back as an error instead of vanishing
        await asyncio.wait_for(
            exchange.publish(message, routing_key="", mandatory=True), self.settings.publish_timeout_seconds
        )

    async def _database(self) -> psycopg.AsyncConnection[Any]:
        if self._db is None or self._db.closed:
            self._db = await psycopg.AsyncConnection.connect(
                self.settings.conninfo(), autocommit=True, application_name="users-ms-relay"
            )
        return self._db

    async def _exchange_ready(self) -> AbstractExchange:
        connection, exchange = self._connection, self._exchange
        if (
            connection is not None
            and not connection.is_closed
            and exchange is not None
            and not exchange.channel.is_closed
        ):
            return exchange
        await self._close_broker()
        timeout = self.settings.publish_timeout_seconds
        try:
            connection = await aio_pika.connect(
                host=self.settings.rabbitmq_host,
                port=self.settings.rabbitmq_port,
                login=self.settings.secret("rabbitmq_username"),
                password=self.settings.secret("rabbitmq_password"),
                virtualhost=self.settings.rabbitmq_vhost,
                timeout=timeout,
                client_properties={"connection_name": "users-ms outbox relay"},
            )
            self._connection = connection
            channel = await asyncio.wait_for(
                connection.channel(publisher_confirms=True, on_return_raises=True), timeout
            )
            self._exchange = await asyncio.wait_for(
                channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.FANOUT, durable=True), timeout
            )
        except SettingsError:
            outbox.PUBLISH_FAILURES.inc()
            raise
        except Exception as exc:
            outbox.PUBLISH_FAILURES.inc()
            raise BrokerUnavailable(type(exc).__name__) from exc
        return self._exchange

    async def _after_failure(self, exc: Exception) -> None:
        broker = isinstance(exc, BrokerUnavailable | SettingsError)
        fields = {
            "error": str(exc) if isinstance(exc, SettingsError | BrokerUnavailable) else type(exc).__name__,
            "pending": self._backlog.pending,
            "failures": self._failures,
        }
        what = "login events not published, retrying" if broker else "outbox relay: database error, retrying"
        log.warning(what, extra={"fields": fields})
        await self._close_broker()
        if not broker:
            await self._close_db()

    async def _close_broker(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None and not connection.is_closed:
            try:
                await asyncio.wait_for(connection.close(), 5)
            except Exception:  # closing a dead connection may fail; it is gone either way
                log.debug("closing the RabbitMQ connection failed")

    async def _close_db(self) -> None:
        db, self._db = self._db, None
        if db is not None and not db.closed:
            with contextlib.suppress(Exception):
                await db.close()

    async def close(self) -> None:
        await self._close_broker()
        await self._close_db()

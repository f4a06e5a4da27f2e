"""Consumes `login_email_notification`: one notification record per login event, acked only after
the record is in S3.

Poison messages (not a valid event) are rejected straight into the dead-letter queue; transient
failures are requeued until the message has been delivered `max_deliveries` times, then dead-lettered.
The queue's own `x-delivery-limit` is the broker-side backstop for consumers that crash mid-message.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from service_common.metrics import service_metrics
from service_common.settings import SettingsError

from notifications_service.settings import Settings
from notifications_service.store import NotificationStore

EXCHANGE = "user_login_event"
QUEUE = "login_email_notification"
DLX = "user_login_event.dlx"
DLQ = "login_email_notification.dlq"
RECONNECT_SECONDS = 2.0
REGISTRY = service_metrics("notifications-ms").registry

SENT = Counter("notifications_sent_total", "Notifications recorded in the object store", registry=REGISTRY)
DEAD_LETTERED = Counter(
    "notifications_dead_lettered_total", "Messages sent to the dead-letter queue", registry=REGISTRY
)
FAILURES = Counter("notifications_failures_total", "Failed attempts to handle a message", registry=REGISTRY)
log = logging.getLogger("notifications.consumer")


class LoginEvent(BaseModel):
    model_config = ConfigDict(coerce_numbers_to_str=True)
    event_id: Annotated[str, Field(pattern=r"^[0-9a-fA-F-]{36}$")]
    user_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    email: Annotated[str, Field(min_length=3, max_length=254)]
    occurred_at: datetime
    source_ip: str | None = None


def notification_record(event: LoginEvent) -> dict[str, Any]:
    """What "sending" the login e-mail produces; the record is the notification."""
    return {
        **event.model_dump(mode="json"),
        "channel": "email",
        "to": event.email,
        "subject": "New sign-in to your account",
        "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


async def declare_topology(channel: aio_pika.abc.AbstractChannel, max_deliveries: int) -> AbstractQueue:
    exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.FANOUT, durable=True)
    dlx = await channel.declare_exchange(DLX, aio_pika.ExchangeType.FANOUT, durable=True)
    dlq = await channel.declare_queue(DLQ, durable=True, arguments={"x-queue-type": "quorum"})
    await dlq.bind(dlx)
    queue = await channel.declare_queue(
        QUEUE,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": max_deliveries,
            "x-dead-letter-exchange": DLX,
        },
    )
    await queue.bind(exchange)
    return queue


class Consumer:
    def __init__(self, settings: Settings, store: NotificationStore) -> None:
        self.settings = settings
        self.store = store
        self.consuming = False
        self._connection: AbstractRobustConnection | None = None
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def connected(self) -> bool:
        """Consuming on a live connection (a robust connection may be between reconnects)."""
        return self.consuming and self._connection is not None and not self._connection.is_closed

    async def run(self) -> None:
        """Connect and consume; retry the first connection until it works (robust after that)."""
        while self._connection is None:
            try:
                await self._start()
            except Exception as exc:  # broker away, bad credentials, unreadable secret file: retry
                detail = str(exc) if isinstance(exc, SettingsError) else type(exc).__name__
                fields = {"error": detail}
                log.warning("RabbitMQ not reachable, retrying", extra={"fields": fields})
                await self._close_connection()
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _start(self) -> None:
        connection = await aio_pika.connect_robust(
            host=self.settings.rabbitmq_host,
            port=self.settings.rabbitmq_port,
            login=self.settings.secret("rabbitmq_username"),
            password=self.settings.secret("rabbitmq_password"),
            virtualhost=self.settings.rabbitmq_vhost,
            timeout=10,
            client_properties={"connection_name": "notifications-ms"},
        )
        self._connection = connection
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.settings.prefetch)
        self._queue = await declare_topology(channel, self.settings.max_deliveries)
        self._tag = await self._queue.consume(self._on_message)
        self.consuming = True
        log.info("consuming", extra={"fields": {"queue": QUEUE, "prefetch": self.settings.prefetch}})

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._inflight += 1
        self._idle.clear()
        try:
            await self._handle(message)
        finally:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        try:
            event = LoginEvent.model_validate_json(message.body)
        except ValidationError as exc:
            DEAD_LETTERED.inc()
            log.error(
                "poison message dead-lettered",
                extra={"fields": {"message_id": message.message_id, "errors": exc.error_count()}},
            )
            await message.reject(requeue=False)
            return
        try:
            written = await asyncio.to_thread(self.store.write_once, notification_record(event))
        except Exception as exc:  # the store failed: retry through the broker, bounded by max_deliveries
            await self._retry_or_dead_letter(message, event, exc)
            return
        await message.ack()
        if written:
            SENT.inc()
        log.info(
            "notification sent" if written else "duplicate event, already sent",
            extra={"fields": {"event_id": event.event_id, "user_id": event.user_id}},
        )

    async def _retry_or_dead_letter(
        self, message: AbstractIncomingMessage, event: LoginEvent, exc: Exception
    ) -> None:
        FAILURES.inc()
        previous = (message.headers or {}).get("x-delivery-count") or 0
        deliveries = int(previous) + 1  # type: ignore[call-overload]
        fields = {"event_id": event.event_id, "deliveries": deliveries, "error": type(exc).__name__}
        if deliveries >= self.settings.max_deliveries:
            DEAD_LETTERED.inc()
            log.error("notification failed for good, dead-lettered", extra={"fields": fields})
            await message.reject(requeue=False)
            return
        log.warning("notification failed, will retry", extra={"fields": fields})
        await asyncio.sleep(min(0.2 * deliveries, 2.0))  # a little back-off before the redelivery
        await message.nack(requeue=True)

    async def stop(self, grace_seconds: float) -> None:
        """Stop taking messages, let in-flight ones finish (ack), then close."""
        if self._queue is not None and self._tag is not None:
            try:
                await self._queue.cancel(self._tag)
            except Exception:  # already gone with the connection
                log.debug("cancel failed")
        self.consuming = False
        try:
            await asyncio.wait_for(self._idle.wait(), grace_seconds)
        except TimeoutError:
            log.warning("in-flight messages left unacknowledged; RabbitMQ will redeliver them")
        await self._close_connection()

    async def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed:
            await connection.close()

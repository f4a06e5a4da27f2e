"""Publishes `user_login_event` to its durable fanout exchange with publisher confirms.

A failed publish never fails the login: it is logged (event id, user id, reason) and counted in
`auth_events_publish_failed_total`. After a failed connect, the next attempt waits a second so that
logins stay fast while RabbitMQ is away.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractExchange
from prometheus_client import Counter
from service_common.metrics import service_metrics

from auth_service.settings import Settings

EXCHANGE = "user_login_event"
REGISTRY = service_metrics("auth-ms").registry
RETRY_AFTER_SECONDS = 1.0

EVENTS_PUBLISHED = Counter(
    "auth_events_published_total", "Login events confirmed by RabbitMQ", registry=REGISTRY
)
EVENTS_FAILED = Counter(
    "auth_events_publish_failed_total", "Login events that could not be published", registry=REGISTRY
)
log = logging.getLogger("auth.events")


class PublishUnavailable(RuntimeError):
    pass


class EventPublisher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._connection: AbstractConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._lock = asyncio.Lock()
        self._retry_at = 0.0

    @property
    def connected(self) -> bool:
        return self._connection is not None and not self._connection.is_closed

    async def _connect(self) -> AbstractExchange:
        if time.monotonic() < self._retry_at:
            raise PublishUnavailable("RabbitMQ unreachable at the last attempt")
        self._retry_at = time.monotonic() + RETRY_AFTER_SECONDS
        timeout = self.settings.publish_timeout_seconds
        connection = await aio_pika.connect(
            host=self.settings.rabbitmq_host,
            port=self.settings.rabbitmq_port,
            login=self.settings.secret("rabbitmq_username"),
            password=self.settings.secret("rabbitmq_password"),
            virtualhost=self.settings.rabbitmq_vhost,
            timeout=timeout,
            client_properties={"connection_name": "auth-ms"},
        )
        self._connection = connection
        # Unroutable messages (no queue bound) come back as errors instead of vanishing.
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        self._exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.FANOUT, durable=True)
        self._retry_at = 0.0
        return self._exchange

    async def _exchange_ready(self) -> AbstractExchange:
        async with self._lock:
            if self.connected and self._exchange is not None and not self._exchange.channel.is_closed:
                return self._exchange
            await self.close()
            return await asyncio.wait_for(self._connect(), self.settings.publish_timeout_seconds)

    async def publish(self, event: dict[str, Any]) -> bool:
        message = aio_pika.Message(
            json.dumps(event).encode(),
            content_type="application/json",
            message_id=str(event["event_id"]),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        try:
            exchange = await self._exchange_ready()
            timeout = self.settings.publish_timeout_seconds
            await asyncio.wait_for(exchange.publish(message, routing_key=""), timeout)
        except Exception as exc:  # any failure is counted and logged, never raised into the login
            EVENTS_FAILED.inc()
            log.error(
                "login event not published",
                extra={
                    "fields": {
                        "event_id": event["event_id"],
                        "user_id": event["user_id"],
                        "error": type(exc).__name__,
                    }
                },
            )
            await self.close()
            return False
        EVENTS_PUBLISHED.inc()
        return True

    async def close(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None and not connection.is_closed:
            try:
                await asyncio.wait_for(connection.close(), 5)
            except Exception:  # closing a dead connection may fail; it is gone either way
                log.debug("closing the RabbitMQ connection failed")

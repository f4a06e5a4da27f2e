"""notifications-ms: the login-event consumer plus a read API over the sent notifications (bearer tokens:
a user reads their own, an admin anyone's)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel
from service_common.http import service_app
from service_common.text import storable
from service_common.tokens import AUTH_RESPONSES, Caller, TokenVerifier, protect, require_self_or_admin

from notifications_service.consumer import Consumer
from notifications_service.settings import Settings
from notifications_service.store import NotificationStore

PREFIX = "/notifications-ms"
log = logging.getLogger("notifications")


class Notification(BaseModel):
    event_id: str
    user_id: str
    email: str
    occurred_at: str
    source_ip: str | None
    channel: str
    to: str
    subject: str
    sent_at: str


class NotificationList(BaseModel):
    items: list[Notification]


def create_app(settings: Settings) -> FastAPI:
    store = NotificationStore(settings)
    consumer = Consumer(settings, store)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.s3_create_bucket:
            try:
                await asyncio.to_thread(store.ensure_bucket)
            except Exception as exc:  # the store may come later; /readyz reports it meanwhile
                log.error("bucket check failed", extra={"fields": {"error": type(exc).__name__}})
        task = asyncio.create_task(consumer.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop(settings.shutdown_grace_seconds)

    app = service_app("notifications-ms", "0.1.0", lifespan)
    protect(app, TokenVerifier.from_settings(settings))

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        state = {"rabbitmq": "consuming" if consumer.connected else "not consuming", "s3": "ok"}
        try:
            await asyncio.to_thread(store.ping)
        except Exception as exc:  # any store error means not ready
            state["s3"] = type(exc).__name__
        ready = consumer.connected and state["s3"] == "ok"
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", **state}, status_code=200 if ready else 503
        )

    @app.get(
        f"{PREFIX}/notifications", response_model=NotificationList, responses={**AUTH_RESPONSES, 503: {}}
    )
    async def list_notifications(
        who: Caller,
        user_id: Annotated[str, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$"), AfterValidator(storable)],
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> Any:
        require_self_or_admin(who, user_id)  # a user reads their own notifications; an admin anyone's
        try:
            items = await asyncio.to_thread(store.list_for_user, user_id, limit)
        except Exception as exc:  # the store is away: say so instead of a 500
            log.error("listing failed", extra={"fields": {"error": type(exc).__name__}})
            return JSONResponse({"detail": "object store unavailable"}, status_code=503)
        return {"items": items}

    return app

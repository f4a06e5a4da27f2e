"""users-ms: users CRUD on PostgreSQL (public port, bearer tokens) plus the credential check used by
auth-ms, served only on the internal port (USERS_INTERNAL_PORT; see service_common.server.PortApps)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

import psycopg
from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from psycopg import errors
from psycopg_pool import ConnectionPool, PoolTimeout
from service_common.http import service_app
from service_common.server import PortApps
from service_common.settings import SettingsError
from service_common.tokens import (
    AUTH_RESPONSES,
    Caller,
    TokenVerifier,
    protect,
    require_admin,
    require_self_or_admin,
)

from users_service import outbox, repository
from users_service.models import (
    CredentialsCheck,
    EmailFilter,
    NameFilter,
    Offset,
    User,
    UserCreate,
    UserId,
    UserPage,
    UserUpdate,
    VerifiedUser,
)
from users_service.passwords import Hasher
from users_service.relay import Relay
from users_service.settings import Settings

PREFIX = "/users-ms"
OUTBOX_FULL_RETRY_AFTER = "30"  # seconds; the backlog drains only once RabbitMQ is back
# A relay pass still running at shutdown gets this long; cut short, its unmarked events go out again later
# (same event ids, which the consumer keeps once).
RELAY_STOP_SECONDS = 5.0
log = logging.getLogger("users")


class DatabaseUnavailable(Exception):
    pass


def _problem(status: int, detail: str) -> HTTPException:
    return HTTPException(status_code=status, detail=detail)


def create_app(settings: Settings) -> PortApps:
    """The public API on USERS_PORT and the internal credential check on USERS_INTERNAL_PORT."""
    if settings.internal_port == settings.port:
        raise SettingsError("USERS_INTERNAL_PORT: must differ from USERS_PORT")
    pool = ConnectionPool(
        settings.conninfo(), min_size=1, max_size=settings.db_pool_size, open=False, timeout=5, name="users"
    )
    hasher = Hasher(settings.bcrypt_rounds)
    relay = Relay(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool.open(wait=False)  # start even while PostgreSQL is away; /readyz reports it
        relaying = asyncio.create_task(relay.run())  # publishes the login-event outbox (relay.py)
        yield
        await relay.stop()
        try:
            await asyncio.wait_for(asyncio.shield(relaying), RELAY_STOP_SECONDS)
        except TimeoutError:
            relaying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relaying
        pool.close()

    app = service_app("users-ms", "0.1.0", lifespan)
    protect(app, TokenVerifier.from_settings(settings))

    @contextmanager
    def connection() -> Iterator[psycopg.Connection[Any]]:
        try:
            with pool.connection() as conn:
                yield conn
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise DatabaseUnavailable(type(exc).__name__) from exc

    @app.exception_handler(DatabaseUnavailable)
    async def _db_down(_: Request, exc: DatabaseUnavailable) -> JSONResponse:
        log.error("database unavailable", extra={"fields": {"error": str(exc)}})
        return JSONResponse({"detail": "database unavailable"}, status_code=503)

    def readyz() -> JSONResponse:
        try:
            with pool.connection(timeout=2) as conn:
                conn.execute("SELECT role FROM users LIMIT 0")  # also proves the schema is migrated
        except (PoolTimeout, psycopg.Error) as exc:
            return JSONResponse({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ready"})

    app.get("/readyz", include_in_schema=False)(readyz)

    @app.post(f"{PREFIX}/users", status_code=201, response_model=User, responses={409: {}, 422: {}})
    def create_user(body: UserCreate) -> dict[str, Any]:
        password_hash = hasher.hash(body.password)
        try:
            with connection() as conn:
                return repository.insert(conn, body.name, body.surname, body.email, password_hash)
        except errors.UniqueViolation:
            raise _problem(409, "email already registered") from None

    @app.get(f"{PREFIX}/users/{{user_id}}", response_model=User, responses={**AUTH_RESPONSES, 404: {}})
    def get_user(user_id: UserId, who: Caller) -> dict[str, Any]:
        require_self_or_admin(who, user_id)
        with connection() as conn:
            row = repository.get(conn, user_id)
        if row is None:
            raise _problem(404, "user not found")
        return row

    @app.get(f"{PREFIX}/users", response_model=UserPage, responses=AUTH_RESPONSES)
    def list_users(
        who: Caller,
        email: EmailFilter = None,
        name: NameFilter = None,
        surname: NameFilter = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        require_admin(who)
        with connection() as conn:
            rows, total = repository.search(
                conn, email=email, name=name, surname=surname, limit=limit, offset=offset
            )
        return {"items": rows, "total": total, "limit": limit, "offset": offset}

    @app.put(
        f"{PREFIX}/users/{{user_id}}", response_model=User, responses={**AUTH_RESPONSES, 404: {}, 409: {}}
    )
    def update_user(user_id: UserId, body: UserUpdate, who: Caller) -> dict[str, Any]:
        require_self_or_admin(who, user_id)
        password_hash = hasher.hash(body.password) if body.password else None
        try:
            with connection() as conn:
                row = repository.update(conn, user_id, body.name, body.surname, body.email, password_hash)
        except errors.UniqueViolation:
            raise _problem(409, "email already registered") from None
        if row is None:
            raise _problem(404, "user not found")
        return row

    @app.delete(f"{PREFIX}/users/{{user_id}}", status_code=204, responses={**AUTH_RESPONSES, 404: {}})
    def delete_user(user_id: UserId, who: Caller) -> Response:
        require_self_or_admin(who, user_id)
        with connection() as conn:
            deleted = repository.delete(conn, user_id)
        if not deleted:
            raise _problem(404, "user not found")
        return Response(status_code=204)

    internal = service_app("users-ms", "0.1.0", _no_lifespan)  # same metrics registry as the public app
    internal.add_exception_handler(DatabaseUnavailable, _db_down)
    internal.get("/readyz", include_in_schema=False)(readyz)

    @internal.post(
        f"{PREFIX}/internal/credentials/verify", response_model=VerifiedUser, responses={401: {}, 503: {}}
    )
    def verify_credentials(body: CredentialsCheck) -> dict[str, Any]:
        """For auth-ms only (internal port, NetworkPolicy): the hash never leaves this service. A right
        password is the login: it is recorded with its login event in one transaction (outbox.py)."""
        with connection() as conn:
            found = repository.credentials(conn, body.email)
        if not hasher.check(body.password, found[2] if found else None) or found is None:
            raise _problem(401, "invalid credentials")
        try:
            with connection() as conn:
                user = outbox.record_login(conn, found[0], body.source_ip, settings.outbox_max_pending)
        except outbox.OutboxFull as exc:
            outbox.REFUSED.inc()
            fields = {"user_id": found[0], "pending": exc.pending, "max_pending": settings.outbox_max_pending}
            log.error("login refused: the login-event outbox is full", extra={"fields": fields})
            raise HTTPException(
                status_code=503,
                detail="login events cannot be recorded; retry later",
                headers={"Retry-After": OUTBOX_FULL_RETRY_AFTER},
            ) from None
        if user is None:  # the account was deleted since the check
            raise _problem(401, "invalid credentials")
        return {"user_id": user["id"], "email": user["email"], "role": user["role"]}

    return PortApps(app, {settings.internal_port: internal})


@asynccontextmanager
async def _no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield  # the public app's lifespan opens and closes the shared pool

"""users-ms: users CRUD on PostgreSQL plus the internal credential check used by auth-ms."""

from __future__ import annotations

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

from users_service import repository
from users_service.models import CredentialsCheck, User, UserCreate, UserPage, UserUpdate, VerifiedUser
from users_service.passwords import Hasher
from users_service.settings import Settings

PREFIX = "/users-ms"
log = logging.getLogger("users")


class DatabaseUnavailable(Exception):
    pass


def _problem(status: int, detail: str) -> HTTPException:
    return HTTPException(status_code=status, detail=detail)


def create_app(settings: Settings) -> FastAPI:
    pool = ConnectionPool(
        settings.conninfo(), min_size=1, max_size=settings.db_pool_size, open=False, timeout=5, name="users"
    )
    hasher = Hasher(settings.bcrypt_rounds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool.open(wait=False)  # start even while PostgreSQL is away; /readyz reports it
        yield
        pool.close()

    app = service_app("users-ms", "0.1.0", lifespan)

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

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        try:
            with pool.connection(timeout=2) as conn:
                conn.execute("SELECT 1 FROM users LIMIT 0")  # also proves the schema is migrated
        except (PoolTimeout, psycopg.Error) as exc:
            return JSONResponse({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.post(f"{PREFIX}/users", status_code=201, response_model=User, responses={409: {}, 422: {}})
    def create_user(body: UserCreate) -> dict[str, Any]:
        password_hash = hasher.hash(body.password)
        try:
            with connection() as conn:
                return repository.insert(conn, body.name, body.surname, body.email, password_hash)
        except errors.UniqueViolation:
            raise _problem(409, "email already registered") from None

    @app.get(f"{PREFIX}/users/{{user_id}}", response_model=User, responses={404: {}})
    def get_user(user_id: int) -> dict[str, Any]:
        with connection() as conn:
            row = repository.get(conn, user_id)
        if row is None:
            raise _problem(404, "user not found")
        return row

    @app.get(f"{PREFIX}/users", response_model=UserPage)
    def list_users(
        email: str | None = None,
        name: str | None = None,
        surname: str | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        with connection() as conn:
            rows, total = repository.search(
                conn, email=email, name=name, surname=surname, limit=limit, offset=offset
            )
        return {"items": rows, "total": total, "limit": limit, "offset": offset}

    @app.put(f"{PREFIX}/users/{{user_id}}", response_model=User, responses={404: {}, 409: {}})
    def update_user(user_id: int, body: UserUpdate) -> dict[str, Any]:
        password_hash = hasher.hash(body.password) if body.password else None
        try:
            with connection() as conn:
                row = repository.update(conn, user_id, body.name, body.surname, body.email, password_hash)
        except errors.UniqueViolation:
            raise _problem(409, "email already registered") from None
        if row is None:
            raise _problem(404, "user not found")
        return row

    @app.delete(f"{PREFIX}/users/{{user_id}}", status_code=204, responses={404: {}})
    def delete_user(user_id: int) -> Response:
        with connection() as conn:
            deleted = repository.delete(conn, user_id)
        if not deleted:
            raise _problem(404, "user not found")
        return Response(status_code=204)

    @app.post(f"{PREFIX}/internal/credentials/verify", response_model=VerifiedUser, responses={401: {}})
    def verify_credentials(body: CredentialsCheck) -> dict[str, Any]:
        """For auth-ms only (NetworkPolicy): the hash never leaves this service."""
        with connection() as conn:
            found = repository.credentials(conn, body.email)
        if not hasher.check(body.password, found[2] if found else None) or found is None:
            raise _problem(401, "invalid credentials")
        return {"user_id": found[0], "email": found[1]}

    return app

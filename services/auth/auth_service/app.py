"""auth-ms: login against users-ms, JWTs from the mounted key set. users-ms records each login with its
login event in its database; its outbox relay publishes the event (docs/adr/0007-login-event-outbox.md)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, ConfigDict
from service_common.http import service_app
from service_common.logs import request_id_var
from service_common.metrics import service_metrics
from service_common.text import CredentialEmail, CredentialPassword

from auth_service.keys import KeyStore
from auth_service.limits import LoginLimiter, Refusal, client_address, parse_networks
from auth_service.settings import Settings

PREFIX = "/auth-ms"
VERIFY_PATH = "/users-ms/internal/credentials/verify"
DEFAULT_ROLE = "user"  # when users-ms names no role: the least privilege
REGISTRY = service_metrics("auth-ms").registry
LOGINS = Counter("auth_logins_total", "Successful logins", registry=REGISTRY)
LOGIN_FAILURES = Counter("auth_login_failures_total", "Logins refused: wrong credentials", registry=REGISTRY)
LOGINS_LIMITED = Counter(
    "auth_login_limited_total",
    "Login attempts refused with 429 by the abuse limits, by limit (account, client)",
    ["reason"],
    registry=REGISTRY,
)
LIMITER_KEYS = Gauge(
    "auth_login_limiter_tracked_keys",
    "Accounts and clients this process's login limits remember (each at most AUTH_LOGIN_MAX_TRACKED_KEYS)",
    ["table"],
    registry=REGISTRY,
)
for _reason in ("account", "client"):  # both series exist from the start (rate() needs a first sample)
    LOGINS_LIMITED.labels(_reason)
log = logging.getLogger("auth")


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The same types as users-ms's credential check: what passes here, users-ms does not refuse (no 503).
    email: CredentialEmail
    password: CredentialPassword


class Token(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 (the OAuth token type, not a secret)
    expires_in: int


class UsersUnavailable(Exception):
    def __init__(self, reason: str, retry_after: str | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after  # users-ms's own Retry-After (its login-event outbox is full)


class LoginLimited(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal


class LimitedDetail(BaseModel):
    detail: str
    retry_after: int


LIMITED_RESPONSE: dict[int | str, dict[str, Any]] = {
    429: {
        "description": (
            "Too many login attempts: failed logins for this account, or attempts from this client. Wait "
            "`Retry-After` seconds. The limits are kept per auth-ms replica: with N replicas an attacker "
            "who reaches all of them gets up to N times the limit."
        ),
        "model": LimitedDetail,
        "headers": {
            "Retry-After": {
                "description": "Seconds until an attempt can be admitted again",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    }
}


async def verify_credentials(
    client: httpx.AsyncClient, body: LoginRequest, source_ip: str
) -> dict[str, Any] | None:
    """users-ms decides, and records a granted login with its login event (`source_ip` goes into the
    event); None means wrong credentials (unknown user and wrong password look the same)."""
    headers = {"x-request-id": request_id_var.get()}
    payload = {**body.model_dump(), "source_ip": source_ip}
    try:
        try:
            response = await client.post(VERIFY_PATH, json=payload, headers=headers)
        except httpx.ConnectError:  # nothing was sent (e.g. a pod just stopped listening): once more
            response = await client.post(VERIFY_PATH, json=payload, headers=headers)
    except httpx.HTTPError as exc:
        raise UsersUnavailable(type(exc).__name__) from exc
    if response.status_code == 401:
        return None
    if response.status_code != 200:
        retry_after = response.headers.get("retry-after") if response.status_code == 503 else None
        raise UsersUnavailable(f"users-ms answered {response.status_code}", retry_after)
    return dict(response.json())


def create_app(settings: Settings) -> FastAPI:
    keys = KeyStore(settings.jwt_keyset_file)
    # One connection per credential check, never a kept-alive one: a users-ms pod that stops (rolling
    # update, pod deletion) closes its idle connections, and a login sent on one just then would fail
    # with 503 (tests/test_auth_users_connection.py). A TCP connect in the cluster costs far less than
    # the bcrypt check it carries.
    users = httpx.AsyncClient(
        base_url=settings.users_url,
        timeout=settings.users_timeout_seconds,
        limits=httpx.Limits(max_keepalive_connections=0),
    )
    limiter = LoginLimiter(settings.login_limits())
    trusted_proxies = parse_networks(settings.trusted_proxies)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await users.aclose()

    app = service_app("auth-ms", "0.1.0", lifespan)

    @app.exception_handler(UsersUnavailable)
    async def _users_down(_: Request, exc: UsersUnavailable) -> JSONResponse:
        log.error("users-ms unavailable", extra={"fields": {"error": str(exc)}})
        headers = {"Retry-After": exc.retry_after} if exc.retry_after and exc.retry_after.isdigit() else None
        return JSONResponse({"detail": "users service unavailable"}, status_code=503, headers=headers)

    @app.exception_handler(LoginLimited)
    async def _limited(_: Request, exc: LoginLimited) -> JSONResponse:
        seconds = exc.refusal.retry_after
        body = {"detail": f"too many login attempts; retry in {seconds} s", "retry_after": seconds}
        return JSONResponse(body, status_code=429, headers={"Retry-After": str(seconds)})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        state = {"users": "ok"}
        try:
            users_ready = (await users.get("/readyz", timeout=2)).status_code == 200
        except httpx.HTTPError:
            users_ready = False
        if not users_ready:
            state["users"] = "unavailable"
        return JSONResponse(
            {"status": "ready" if users_ready else "unavailable", **state},
            status_code=200 if users_ready else 503,
        )

    @app.get(f"{PREFIX}/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        return keys.current().jwks()

    def client_of(request: Request) -> str:
        peer = request.client.host if request.client else None
        return client_address(peer, request.headers.getlist("x-forwarded-for"), trusted_proxies)

    @app.post(f"{PREFIX}/auth/login", response_model=Token, responses={401: {}, 503: {}, **LIMITED_RESPONSE})
    async def login(body: LoginRequest, request: Request) -> dict[str, Any]:
        client = client_of(request)
        refusal = limiter.admit(body.email, client)
        for table, count in limiter.tracked().items():
            LIMITER_KEYS.labels(table).set(count)
        if refusal is not None:
            LOGINS_LIMITED.labels(refusal.reason).inc()
            raise LoginLimited(refusal)
        outcome: bool | None = None  # None: users-ms gave no answer, which is no failed guess
        user: dict[str, Any] | None = None
        try:
            user = await verify_credentials(users, body, client)
            outcome = user is not None
        finally:
            limiter.finish(body.email, outcome)
        if user is None:
            LOGIN_FAILURES.inc()
            raise HTTPException(status_code=401, detail="invalid credentials")
        claims = {"aud": settings.jwt_audience, "role": str(user.get("role") or DEFAULT_ROLE)}
        token = keys.sign(str(user["user_id"]), settings.jwt_issuer, settings.jwt_ttl_seconds, claims)
        LOGINS.inc()
        return {"access_token": token, "expires_in": settings.jwt_ttl_seconds}

    return app

"""auth-ms: login against users-ms, JWTs from the mounted key set, login events to RabbitMQ."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import BackgroundTasks, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, ConfigDict
from service_common.http import service_app
from service_common.logs import request_id_var
from service_common.metrics import service_metrics
from service_common.text import CredentialEmail, CredentialPassword

from auth_service.keys import KeyStore
from auth_service.limits import LoginLimiter, Refusal, client_address, parse_networks
from auth_service.publisher import EventPublisher
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
    pass


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


async def verify_credentials(client: httpx.AsyncClient, body: LoginRequest) -> dict[str, Any] | None:
    """users-ms decides; None means wrong credentials (unknown user and wrong password look the same)."""
    try:
        headers = {"x-request-id": request_id_var.get()}
        response = await client.post(VERIFY_PATH, json=body.model_dump(), headers=headers)
    except httpx.HTTPError as exc:
        raise UsersUnavailable(type(exc).__name__) from exc
    if response.status_code == 401:
        return None
    if response.status_code != 200:
        raise UsersUnavailable(f"users-ms answered {response.status_code}")
    return dict(response.json())


def create_app(settings: Settings) -> FastAPI:
    keys = KeyStore(settings.jwt_keyset_file)
    publisher = EventPublisher(settings)
    users = httpx.AsyncClient(base_url=settings.users_url, timeout=settings.users_timeout_seconds)
    limiter = LoginLimiter(settings.login_limits())
    trusted_proxies = parse_networks(settings.trusted_proxies)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await publisher.close()
        await users.aclose()

    app = service_app("auth-ms", "0.1.0", lifespan)

    @app.exception_handler(UsersUnavailable)
    async def _users_down(_: Request, exc: UsersUnavailable) -> JSONResponse:
        log.error("users-ms unavailable", extra={"fields": {"error": str(exc)}})
        return JSONResponse({"detail": "users service unavailable"}, status_code=503)

    @app.exception_handler(LoginLimited)
    async def _limited(_: Request, exc: LoginLimited) -> JSONResponse:
        seconds = exc.refusal.retry_after
        body = {"detail": f"too many login attempts; retry in {seconds} s", "retry_after": seconds}
        return JSONResponse(body, status_code=429, headers={"Retry-After": str(seconds)})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        # RabbitMQ is reported but does not gate readiness: logins work while it is away.
        state = {"users": "ok", "rabbitmq": "connected" if publisher.connected else "not connected"}
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
    async def login(body: LoginRequest, request: Request, background: BackgroundTasks) -> dict[str, Any]:
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
            user = await verify_credentials(users, body)
            outcome = user is not None
        finally:
            limiter.finish(body.email, outcome)
        if user is None:
            LOGIN_FAILURES.inc()
            raise HTTPException(status_code=401, detail="invalid credentials")
        claims = {"aud": settings.jwt_audience, "role": str(user.get("role") or DEFAULT_ROLE)}
        token = keys.sign(str(user["user_id"]), settings.jwt_issuer, settings.jwt_ttl_seconds, claims)
        LOGINS.inc()
        event = {
            "event_id": str(uuid.uuid4()),
            "user_id": user["user_id"],
            "email": user["email"],
            "occurred_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "source_ip": client,
        }
        # Published after the response is sent; uvicorn still waits for it on shutdown.
        background.add_task(publisher.publish, event)
        return {"access_token": token, "expires_in": settings.jwt_ttl_seconds}

    return app

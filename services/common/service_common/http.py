"""HTTP plumbing of every service: request id, 64 KiB body limit, per-route metrics, one access-log line
per request, 422s that never echo the submitted values, and the `/healthz` and `/metrics` routes.

Three answers are made to match what the OpenAPI documents say (and schemathesis checks):
- a body that cannot be parsed as JSON is a 422 (`json_invalid`) whatever the reason; FastAPI itself
  answers a syntax error with 422 but undecodable bytes (not UTF-8), too deep nesting or a too long
  integer with an undocumented 400;
- a 405 (an undeclared method, OPTIONS included) lists in `Allow` every method of the path, where
  Starlette lists only those of the first route whose path matched (GET and POST on `/users` are two
  routes);
- a query parameter the route does not declare, or a single-valued one given twice, is a 422 naming it
  (`StrictQueryRoute`), where FastAPI would ignore the first and use the last: a misspelt filter
  (`?emial=`) must not silently list everything. Routes without any parameter (FastAPI documents no 422
  for them) still ignore a query string.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping, Sequence
from contextlib import AbstractAsyncContextManager
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_flat_params
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

from service_common.logs import request_id_var
from service_common.metrics import ServiceMetrics, service_metrics

MAX_BODY_BYTES = 64 * 1024
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

log = logging.getLogger("http")


def service_app(title: str, version: str, lifespan: Lifespan) -> FastAPI:
    """A FastAPI app with the shared middleware, 422 handler, `/healthz` and `/metrics` in place."""
    metrics = service_metrics(title)
    app = FastAPI(title=title, version=version, lifespan=lifespan)
    app.router.route_class = StrictQueryRoute
    app.add_middleware(HttpMiddleware, metrics=metrics)
    app.add_exception_handler(RequestValidationError, validation_error_response)
    app.add_exception_handler(StarletteHTTPException, http_error_response)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}  # the process answers; dependencies are /readyz's business

    @app.get("/metrics", include_in_schema=False)
    async def metrics_route() -> Response:
        return metrics.response()

    return app


async def validation_error_response(_: Request, exc: Exception) -> JSONResponse:
    """422 naming the fields, without echoing the submitted values (they may be passwords)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in errors
    ]
    return JSONResponse({"detail": detail}, status_code=422)


FASTAPI_BODY_ERROR = "There was an error parsing the body"
UNPARSEABLE_BODY = {"loc": ["body"], "msg": "request body is not parseable JSON", "type": "json_invalid"}


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves at the request's path, sorted."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


async def http_error_response(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an HTTPException, except for the two cases in the module's docstring."""
    if not isinstance(exc, StarletteHTTPException):
        raise TypeError(f"not an HTTPException: {type(exc).__name__}")
    # FastAPI raises its body-parsing 400 with this detail, from what json.loads raised (UnicodeDecodeError,
    # ValueError for an integer of too many digits, RecursionError); tests pin it for FastAPI upgrades.
    if exc.status_code == 400 and exc.detail == FASTAPI_BODY_ERROR and exc.__cause__ is not None:
        return JSONResponse({"detail": [UNPARSEABLE_BODY]}, status_code=422)
    if exc.status_code == 405:
        headers = {**(exc.headers or {}), "Allow": ", ".join(allowed_methods(request))}
        exc = StarletteHTTPException(405, exc.detail, headers)
    return await http_exception_handler(request, exc)


def _takes_several(annotation: object) -> bool:
    """Whether a query parameter of this type may be repeated (`?tag=a&tag=b` for a list)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _takes_several(get_args(annotation)[0])
    if origin is Union or origin is UnionType:
        return any(_takes_several(arg) for arg in get_args(annotation))
    kind = origin if isinstance(origin, type) else annotation
    return (
        isinstance(kind, type) and issubclass(kind, Sequence | set | frozenset) and kind not in (str, bytes)
    )


def _query_parameters(dependant: Dependant) -> dict[str, bool]:
    """Name of every query parameter of a route (its dependencies' included) -> whether it may repeat."""
    found: dict[str, bool] = {}
    pending = [dependant]
    while pending:
        current = pending.pop()
        found.update(
            {field.alias: _takes_several(field.field_info.annotation) for field in current.query_params}
        )
        pending.extend(current.dependencies)
    return found


def _query_problems(request: Request, declared: dict[str, bool]) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    for name in dict.fromkeys(request.query_params.keys()):
        if name not in declared:
            problems.append(
                {"loc": ["query", name], "msg": "unknown query parameter", "type": "extra_forbidden"}
            )
        elif not declared[name] and len(request.query_params.getlist(name)) > 1:
            problems.append({"loc": ["query", name], "msg": "given more than once", "type": "repeated"})
    return problems


class StrictQueryRoute(APIRoute):
    """An APIRoute that refuses undeclared and repeated single-valued query parameters (module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not (get_flat_params(self.dependant) or self.body_field):
            return handler
        declared = _query_parameters(self.dependant)

        async def strict_handler(request: Request) -> Response:
            problems = _query_problems(request, declared)
            if problems:
                return JSONResponse({"detail": problems}, status_code=422)
            return await handler(request)

        return strict_handler


async def _send_plain(send: Send, status: int, detail: str, request_id: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"x-request-id", request_id.encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> tuple[list[Message], int]:
    """Buffer the request body (bounded by MAX_BODY_BYTES + one chunk); return messages and size."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        size += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body") or size > MAX_BODY_BYTES:
            return messages, size


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def _declared_length(headers: dict[bytes, bytes]) -> int | None:
    raw = headers.get(b"content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return -1


class HttpMiddleware:
    """Request id, body limit, per-route metrics and one access-log line per request."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status  # kept when the app fails after it has started the response
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            status = await self._guarded(scope, receive, send_with_id, headers, request_id)
        finally:
            self._observe(scope, status, time.perf_counter() - started)
            request_id_var.reset(token)

    async def _guarded(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes], request_id: str
    ) -> int:
        declared = _declared_length(headers)
        if declared is not None and declared < 0:
            await _send_plain(send, 400, "invalid Content-Length", request_id)
            return 400
        if declared is not None and declared > MAX_BODY_BYTES:
            await _send_plain(send, 413, f"request body larger than {MAX_BODY_BYTES} bytes", request_id)
            return 413
        messages, size = await _read_body(receive)
        if size > MAX_BODY_BYTES:
            await _send_plain(send, 413, f"request body larger than {MAX_BODY_BYTES} bytes", request_id)
            return 413
        holder: dict[str, int] = {"status": 500}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                holder["status"] = message["status"]
            await send(message)

        await self.app(scope, _replay(messages, receive), capture)
        return holder["status"]

    def _observe(self, scope: Scope, status: int, elapsed: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "-")
        self.metrics.requests.labels(template, method, str(status)).inc()
        self.metrics.duration.labels(template, method).observe(elapsed)
        level = logging.DEBUG if scope.get("path") in QUIET_PATHS else logging.INFO
        fields = {"method": method, "route": template, "status": status, "ms": round(elapsed * 1000, 2)}
        log.log(level, "request", extra={"fields": fields})

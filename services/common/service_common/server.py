"""Start-up shared by the services: settings, JSON logs, app built (secrets checked) before serving,
then uvicorn with graceful SIGTERM handling.

On SIGTERM uvicorn stops accepting, waits for in-flight requests up to `shutdown_grace_seconds`, then
runs the app's lifespan shutdown (which drains the service's own work, e.g. a message consumer).

A service with service-to-service routes returns `PortApps`: one uvicorn server listens on the main
port and on each extra port, and every connection is served by the app of the port it arrived on (the
socket's own address, not a header), so a route of the internal app does not exist on the public port.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError
from uvicorn.supervisors import Multiprocess

from service_common.http import ASGIApp, Receive, Scope, Send
from service_common.logs import configure_logging
from service_common.settings import ServiceSettings, SettingsError, WorkerSettings

S = TypeVar("S", bound=ServiceSettings)
HOST = "0.0.0.0"  # noqa: S104 (container ports)


@dataclass(frozen=True)
class PortApps:
    """`main` on the service's port (it also gets the lifespan: it owns the shared resources such as a
    connection pool), and one more app per extra port."""

    main: FastAPI
    extra: Mapping[int, ASGIApp] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server") or (None, None)
        app = self.extra.get(server[1]) if scope["type"] != "lifespan" else None
        await (app or self.main)(scope, receive, send)


Served = FastAPI | PortApps


def _logger(settings_type: type[ServiceSettings]) -> logging.Logger:
    """Named after the service (`USERS_` -> `users`), like the rest of its log lines."""
    prefix = str(settings_type.model_config.get("env_prefix", "service_"))
    return logging.getLogger(prefix.rstrip("_").lower())


def app_factory(settings_type: type[S], create_app: Callable[[S], Served]) -> Callable[[], Served]:
    """What each uvicorn worker process calls: its own settings, logging and app."""

    def build() -> Served:
        settings = settings_type()
        configure_logging(settings.log_level)
        return create_app(settings)

    return build


def _load(settings_type: type[S]) -> S | None:
    try:
        return settings_type()
    except ValidationError as exc:
        configure_logging("INFO")
        prefix = str(settings_type.model_config.get("env_prefix", ""))
        # Names and reasons only: the rejected values are never logged (one may be a secret).
        problems = "; ".join(
            f"{prefix}{'_'.join(map(str, e['loc']))}".upper() + f": {e['msg']}" for e in exc.errors()
        )
        _logger(settings_type).error("invalid settings: %s", problems)
        return None


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise SettingsError(f"cannot listen on port {port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _run(config: uvicorn.Config, ports: list[int]) -> None:
    """uvicorn on several ports: one server (one lifespan, one graceful drain) over all the sockets."""
    sockets = [_bind(port) for port in ports]
    try:
        if config.workers > 1:
            Multiprocess(config, sockets=sockets).run()
        else:
            uvicorn.Server(config).run(sockets=sockets)
    finally:
        for sock in sockets:
            sock.close()


def serve(
    settings_type: type[S],
    create_app: Callable[[S], Served],
    factory: str | None = None,
    startup_errors: tuple[type[Exception], ...] = (),
) -> int:
    """Run the service; 2 (with one error line) when its settings or secrets are unusable.

    `factory` ("package.main:build_app", see `app_factory`) is used when the settings ask for more than
    one worker process; `startup_errors` are the service's own errors that mean "bad configuration".
    """
    settings = _load(settings_type)
    if settings is None:
        return 2
    configure_logging(settings.log_level)
    workers = settings.workers if isinstance(settings, WorkerSettings) else 1
    try:
        built = create_app(settings)  # validates settings and secret files before serving
    except (SettingsError, *startup_errors) as exc:
        _logger(settings_type).error(str(exc))
        return 2
    app: Served | str = factory if factory is not None and workers > 1 else built
    options: dict[str, Any] = {
        "host": HOST,
        "port": settings.port,
        "log_config": None,
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
        "factory": isinstance(app, str),
        "workers": workers if isinstance(app, str) else 1,
        **settings.uvicorn_options(),
    }
    if isinstance(built, PortApps) and built.extra:
        try:
            _run(uvicorn.Config(app, **options), [settings.port, *built.extra])
        except SettingsError as exc:
            _logger(settings_type).error(str(exc))
            return 2
    else:
        uvicorn.run(app, **options)
    return 0

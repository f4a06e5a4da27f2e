"""Start-up shared by the services: settings, JSON logs, app built (secrets checked) before serving,
then uvicorn with graceful SIGTERM handling.

On SIGTERM uvicorn stops accepting, waits for in-flight requests up to `shutdown_grace_seconds`, then
runs the app's lifespan shutdown (which drains the service's own work, e.g. a message consumer).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from service_common.logs import configure_logging
from service_common.settings import ServiceSettings, SettingsError, WorkerSettings

S = TypeVar("S", bound=ServiceSettings)


def _logger(settings_type: type[ServiceSettings]) -> logging.Logger:
    """Named after the service (`USERS_` -> `users`), like the rest of its log lines."""
    prefix = str(settings_type.model_config.get("env_prefix", "service_"))
    return logging.getLogger(prefix.rstrip("_").lower())


def app_factory(settings_type: type[S], create_app: Callable[[S], FastAPI]) -> Callable[[], FastAPI]:
    """What each uvicorn worker process calls: its own settings, logging and app."""

    def build() -> FastAPI:
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


def serve(
    settings_type: type[S],
    create_app: Callable[[S], FastAPI],
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
    app: FastAPI | str = factory if factory is not None and workers > 1 else built
    uvicorn.run(
        app,
        host="0.0.0.0",  # noqa: S104 (container port)
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        factory=isinstance(app, str),
        workers=workers if isinstance(app, str) else 1,
        **settings.uvicorn_options(),
    )
    return 0

"""A minimal service on the shared start-up, for test_common_server.py and test_common_tokens.py
(`python -m demo_service`)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict
from service_common.http import service_app
from service_common.server import serve
from service_common.tokens import Caller, TokenSettings, TokenVerifier, protect

log = logging.getLogger("demo")


class Settings(TokenSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore")

    token_file: Path | None = None
    slow_seconds: float = 1.5


def create_app(settings: Settings) -> FastAPI:
    if settings.token_file is not None:
        settings.secret("token")  # a bad secret stops the start, as in the real services

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        log.info("lifespan shutdown")

    app = service_app("demo-ms", "0.0.1", lifespan)
    protect(app, TokenVerifier.from_settings(settings))

    @app.get("/whoami")
    def whoami(who: Caller) -> dict[str, str]:
        return {"subject": who.subject, "role": who.role}

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        log.info("slow request started")
        await asyncio.sleep(settings.slow_seconds)
        return {"status": "done"}

    return app


if __name__ == "__main__":
    sys.exit(serve(Settings, create_app))

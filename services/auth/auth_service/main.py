"""`auth-service`: run auth-ms (see service_common.server for start-up and graceful shutdown)."""

from __future__ import annotations

import sys

from service_common.server import app_factory, serve

from auth_service.app import create_app
from auth_service.keys import KeySetError
from auth_service.settings import Settings

build_app = app_factory(Settings, create_app)  # each worker process's app when AUTH_WORKERS > 1


def main() -> int:
    return serve(Settings, create_app, factory="auth_service.main:build_app", startup_errors=(KeySetError,))


if __name__ == "__main__":
    sys.exit(main())

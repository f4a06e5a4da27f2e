"""`users-service`: run users-ms (see service_common.server for start-up and graceful shutdown)."""

from __future__ import annotations

import sys

from service_common.server import app_factory, serve

from users_service.app import create_app
from users_service.settings import Settings

build_app = app_factory(Settings, create_app)  # each worker process's app when USERS_WORKERS > 1


def main() -> int:
    return serve(Settings, create_app, factory="users_service.main:build_app")


if __name__ == "__main__":
    sys.exit(main())

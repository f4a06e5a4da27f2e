"""`notifications-service`: run notifications-ms (see service_common.server for start-up and graceful
shutdown: uvicorn drains HTTP requests, then the app's lifespan stops the consumer and drains messages)."""

from __future__ import annotations

import sys

from service_common.server import serve

from notifications_service.app import create_app
from notifications_service.settings import Settings


def main() -> int:
    return serve(Settings, create_app)


if __name__ == "__main__":
    sys.exit(main())

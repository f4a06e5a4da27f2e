"""RabbitMQ user passwords: changed through the management HTTP API, checked over AMQP.

Settings (environment, never flags; the password goes in a JSON body, never on a command line):
- PLATFORMCTL_RABBITMQ_API: management API base URL, e.g. http://127.0.0.1:15672 through
  `kubectl -n data port-forward svc/rabbitmq 15672` (the chart's image is `-management`).
- PLATFORMCTL_RABBITMQ_AMQP: `host:port` of the AMQP listener for the check (default: the API's host, 5672).
- PLATFORMCTL_RABBITMQ_VHOST: virtual host the check opens (default `/`).
- PLATFORMCTL_RABBITMQ_ADMIN_USER / PLATFORMCTL_RABBITMQ_ADMIN_PASSWORD: an administrator for the
  API; without them the rotated user changes its own password (the chart's user is the administrator).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx
import pika
from pika import exceptions as pika_errors

from platformctl.errors import ConfigError

_API = "PLATFORMCTL_RABBITMQ_API"
# A refused login is an expected answer here; pika would log it as a stack of errors on stderr.
logging.getLogger("pika").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Settings:
    api: str
    amqp_host: str
    amqp_port: int
    vhost: str = "/"
    admin_user: str | None = None
    admin_password: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        api = environ.get(_API, "").rstrip("/")
        if not api:
            raise ConfigError(
                f"rotating a RabbitMQ password needs {_API} (management API URL, e.g. "
                "http://127.0.0.1:15672 through `kubectl -n data port-forward svc/rabbitmq 15672`)"
            )
        default_host = urlsplit(api).hostname or "127.0.0.1"
        host, _, port = environ.get("PLATFORMCTL_RABBITMQ_AMQP", f"{default_host}:5672").rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError("PLATFORMCTL_RABBITMQ_AMQP must be host:port (e.g. 127.0.0.1:5672)")
        return cls(
            api,
            host,
            int(port),
            environ.get("PLATFORMCTL_RABBITMQ_VHOST", "/"),
            environ.get("PLATFORMCTL_RABBITMQ_ADMIN_USER"),
            environ.get("PLATFORMCTL_RABBITMQ_ADMIN_PASSWORD"),
        )


def _request(
    settings: Settings, method: str, path: str, auth: tuple[str, str], **kw: object
) -> httpx.Response:
    try:
        response = httpx.request(method, f"{settings.api}{path}", auth=auth, timeout=10, **kw)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        raise ConfigError(
            f"RabbitMQ management API at {settings.api} unreachable ({type(exc).__name__}); check {_API}"
        ) from None
    if response.status_code in (401, 403):
        raise ConfigError(
            f"RabbitMQ management API refused {method} {path} (HTTP {response.status_code}); the "
            "credentials need the administrator tag (PLATFORMCTL_RABBITMQ_ADMIN_USER/_PASSWORD)"
        )
    if response.status_code == 404:
        raise ConfigError(f"RabbitMQ user in {path} does not exist; check the secret map's username")
    if response.is_error:
        raise ConfigError(f"RabbitMQ management API {method} {path} failed: HTTP {response.status_code}")
    return response


def set_password(settings: Settings, user: str, current: str, new: str) -> None:
    """Change `user`'s password, keeping its tags (PUT replaces the user; permissions stay)."""
    auth = (settings.admin_user, settings.admin_password or "") if settings.admin_user else (user, current)
    path = f"/api/users/{quote(user, safe='')}"
    tags = _request(settings, "GET", path, auth).json().get("tags", [])
    tags = ",".join(tags) if isinstance(tags, list) else str(tags)
    _request(settings, "PUT", path, auth, json={"password": new, "tags": tags})


def authenticates(settings: Settings, user: str, password: str) -> bool:
    """Whether an AMQP connection as `user` opens (False only when RabbitMQ refuses the login)."""
    params = pika.ConnectionParameters(
        host=settings.amqp_host,
        port=settings.amqp_port,
        virtual_host=settings.vhost,
        credentials=pika.PlainCredentials(user, password),
        connection_attempts=1,
        socket_timeout=5,
        blocked_connection_timeout=5,
    )
    try:
        pika.BlockingConnection(params).close()
    except (pika_errors.ProbableAuthenticationError, pika_errors.AuthenticationError):
        return False
    except pika_errors.AMQPError as exc:
        raise ConfigError(
            f"AMQP check at {settings.amqp_host}:{settings.amqp_port} failed ({type(exc).__name__}); "
            "check PLATFORMCTL_RABBITMQ_AMQP and the user's permissions on PLATFORMCTL_RABBITMQ_VHOST"
        ) from None
    return True


def rotate_and_verify(settings: Settings, user: str, old: str, new: str) -> None:
    """Set the new password, then prove it: the new one logs in over AMQP, the old one no longer does."""
    set_password(settings, user, old, new)
    if not authenticates(settings, user, new):
        raise ConfigError(f"RabbitMQ refused the new password of {user} over AMQP after the change")
    if old != new and authenticates(settings, user, old):
        raise ConfigError(f"RabbitMQ still accepts the old password of {user} over AMQP")

"""The one place where an auth-ms setting is named (environment prefix `AUTH_`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from service_common.settings import WorkerSettings


class Settings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore")

    # users-ms's internal port (credential check), a Service the ingress never routes to.
    users_url: str = "http://users-internal.apps.svc:8081"
    users_timeout_seconds: float = Field(10.0, gt=0)
    jwt_keyset_file: Path = Path("/var/run/secrets/platform/auth-jwt-keys/keyset.json")
    jwt_ttl_seconds: int = Field(900, ge=60, le=86400)
    jwt_issuer: str = "auth-ms"
    # `aud` of every token; the services that check tokens expect exactly this value.
    jwt_audience: str = Field("platform-api", min_length=1)
    rabbitmq_host: str = "rabbitmq.data.svc"
    rabbitmq_port: int = Field(5672, ge=1, le=65535)
    rabbitmq_vhost: str = "/"
    rabbitmq_username_file: Path = Path("/var/run/secrets/platform/rabbitmq-app/username")
    rabbitmq_password_file: Path = Path("/var/run/secrets/platform/rabbitmq-app/password")
    publish_timeout_seconds: float = Field(3.0, gt=0)
    # Peers whose X-Forwarded-For is trusted for the event's source IP (the ingress), comma-separated.
    forwarded_allow_ips: str = "127.0.0.1"

    def uvicorn_options(self) -> dict[str, Any]:
        return {"proxy_headers": True, "forwarded_allow_ips": self.forwarded_allow_ips}

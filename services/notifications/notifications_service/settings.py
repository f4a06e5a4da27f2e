"""The one place where a notifications-ms setting is named (environment prefix `NOTIFICATIONS_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from service_common.tokens import TokenSettings

SECRETS = Path("/var/run/secrets/platform")


class Settings(TokenSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")

    rabbitmq_host: str = "rabbitmq.data.svc"
    rabbitmq_port: int = Field(5672, ge=1, le=65535)
    rabbitmq_vhost: str = "/"
    rabbitmq_username_file: Path = SECRETS / "rabbitmq-app" / "username"
    rabbitmq_password_file: Path = SECRETS / "rabbitmq-app" / "password"
    s3_endpoint: str = "http://minio.data.svc:9000"
    s3_region: str = "us-east-1"
    s3_bucket: str = "notifications"
    s3_access_key_file: Path = SECRETS / "notifications-s3" / "access-key"
    s3_secret_key_file: Path = SECRETS / "notifications-s3" / "secret-key"
    # Create the bucket at start when it is missing (needs the right to; off when ops pre-create it).
    s3_create_bucket: bool = True
    prefetch: int = Field(10, ge=1, le=1000)
    # Must equal the queue's x-delivery-limit once the queue exists (RabbitMQ refuses a changed argument).
    max_deliveries: int = Field(5, ge=1, le=100)

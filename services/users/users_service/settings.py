"""The one place where a users-ms setting is named (environment prefix `USERS_`)."""

from __future__ import annotations

from pathlib import Path

from psycopg.conninfo import make_conninfo
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from service_common.settings import WorkerSettings
from service_common.tokens import TokenSettings


class Settings(WorkerSettings, TokenSettings):
    model_config = SettingsConfigDict(env_prefix="USERS_", extra="ignore")

    # The credential check for auth-ms is served on this port only (never on USERS_PORT).
    internal_port: int = Field(8081, ge=1, le=65535)

    db_host: str = "127.0.0.1"
    db_port: int = Field(5432, ge=1, le=65535)
    db_name: str = "users"
    db_user: str = "users"
    # Empty means no password (e.g. trust or peer authentication in development).
    db_password_file: Path | None = None
    db_pool_size: int = Field(10, ge=1, le=100)
    bcrypt_rounds: int = Field(12, ge=4, le=31)
    # Login events (users_service.outbox, docs/adr/0007-login-event-outbox.md): the relay publishes the
    # outbox to RabbitMQ (the `rabbitmq-app` Secret); users-migrate never connects.
    rabbitmq_host: str = "rabbitmq.data.svc"
    rabbitmq_port: int = Field(5672, ge=1, le=65535)
    rabbitmq_vhost: str = "/"
    rabbitmq_username_file: Path = Path("/var/run/secrets/platform/rabbitmq-app/username")
    rabbitmq_password_file: Path = Path("/var/run/secrets/platform/rabbitmq-app/password")
    # Connect, and wait for one publisher confirm, at most this long.
    publish_timeout_seconds: float = Field(3.0, gt=0, le=60)
    # The bound: with this many events pending, a login is refused with 503 (nothing is dropped).
    outbox_max_pending: int = Field(100_000, ge=1, le=100_000_000)
    # How often each process looks for pending events while the outbox is drained (idle poll).
    outbox_poll_seconds: float = Field(1.0, gt=0, le=60)
    # Events published per relay pass (one transaction, one confirm each, in id order).
    outbox_batch_size: int = Field(100, ge=1, le=10_000)
    # After a failed pass the relay waits the poll interval, doubled per failure up to this.
    outbox_retry_max_seconds: float = Field(30.0, gt=0, le=3600)
    # Sent events are kept this long (to answer "was event X published, when?"), then deleted.
    outbox_retention_seconds: int = Field(86_400, ge=0, le=30 * 86_400)
    # The admin account users-migrate seeds (mounted `users-admin` Secret); unset: no admin is seeded.
    admin_email_file: Path | None = None
    admin_password_file: Path | None = None

    def conninfo(self) -> str:
        """libpq connection string; holds the password, so it is never logged."""
        params: dict[str, str | int] = {
            "host": self.db_host,
            "port": self.db_port,
            "dbname": self.db_name,
            "user": self.db_user,
            "application_name": "users-ms",
            "connect_timeout": 5,
        }
        if self.db_password_file is not None:
            params["password"] = self.secret("db_password")
        return make_conninfo("", **params)

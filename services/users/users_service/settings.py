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

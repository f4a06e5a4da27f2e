"""The one place where a users-ms setting is named (environment prefix `USERS_`)."""

from __future__ import annotations

from pathlib import Path

from psycopg.conninfo import make_conninfo
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from service_common.settings import WorkerSettings


class Settings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="USERS_", extra="ignore")

    db_host: str = "127.0.0.1"
    db_port: int = Field(5432, ge=1, le=65535)
    db_name: str = "users"
    db_user: str = "users"
    # Empty means no password (e.g. trust or peer authentication in development).
    db_password_file: Path | None = None
    db_pool_size: int = Field(10, ge=1, le=100)
    bcrypt_rounds: int = Field(12, ge=4, le=31)

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

"""Settings every service has, and secrets read from mounted Secret files.

A service subclasses `ServiceSettings` (or `WorkerSettings` when it can run several uvicorn workers) and
sets its own `env_prefix`; the settings then name themselves in errors (`USERS_DB_PASSWORD_FILE: ...`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(RuntimeError):
    """A setting cannot be used (e.g. an unreadable secret file); the message names the setting."""


def read_secret_file(setting: str, path: Path) -> str:
    """Content of a mounted Secret file without the trailing newline."""
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise SettingsError(f"{setting}: cannot read {path}: {exc.strerror}") from None


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    log_level: str = "INFO"
    port: int = Field(8080, ge=1, le=65535)
    # Keep below the pod's terminationGracePeriodSeconds.
    shutdown_grace_seconds: int = Field(20, ge=1, le=600)

    def env_name(self, field: str) -> str:
        """The environment variable behind `field`, e.g. `USERS_DB_PASSWORD_FILE`."""
        return f"{self.model_config.get('env_prefix', '')}{field}".upper()

    def secret(self, name: str) -> str:
        """Read the secret file behind the path setting `<name>_file` (e.g. `rabbitmq_password`)."""
        field = f"{name}_file"
        path = getattr(self, field)
        if path is None:
            raise SettingsError(f"{self.env_name(field)}: not set")
        return read_secret_file(self.env_name(field), Path(path))

    def uvicorn_options(self) -> dict[str, Any]:
        """Extra uvicorn settings; a service behind a trusted proxy overrides this."""
        return {"proxy_headers": False}


class WorkerSettings(ServiceSettings):
    # uvicorn worker processes; Kubernetes scales with pods (1), the benchmark uses one per core.
    workers: int = Field(1, ge=1, le=64)

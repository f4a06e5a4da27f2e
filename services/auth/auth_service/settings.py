"""The one place where an auth-ms setting is named (environment prefix `AUTH_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict
from service_common.settings import WorkerSettings

from auth_service.limits import LoginLimits, parse_networks


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
    # Networks of the proxies (the ingress) whose X-Forwarded-For names the client, comma-separated
    # addresses or CIDRs; empty (the default): no proxy is trusted and the client is the peer address.
    # It keys the per-client login limit and is the login event's source IP (auth_service.limits), which
    # users-ms records with the login.
    trusted_proxies: str = ""
    # Login abuse limits (auth_service.limits). Account: failed logins only, a few free, then a delay that
    # doubles per failure up to the cap; client: a token bucket over every attempt.
    login_account_free_failures: int = Field(5, ge=1, le=1000)
    login_account_base_delay_seconds: float = Field(1.0, gt=0, le=3600)
    login_account_max_delay_seconds: float = Field(60.0, gt=0, le=3600)
    login_account_reset_seconds: float = Field(900.0, gt=0, le=86400)
    login_client_burst: int = Field(60, ge=1, le=1_000_000)
    login_client_per_second: float = Field(1.0, gt=0, le=100_000)
    # Entries per table (accounts, clients); the least recently used is dropped beyond it.
    login_max_tracked_keys: int = Field(50_000, ge=1, le=10_000_000)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @model_validator(mode="after")
    def _delays(self) -> Settings:
        if self.login_account_base_delay_seconds > self.login_account_max_delay_seconds:
            raise ValueError("the base delay exceeds AUTH_LOGIN_ACCOUNT_MAX_DELAY_SECONDS")
        return self

    def login_limits(self) -> LoginLimits:
        return LoginLimits(
            free_failures=self.login_account_free_failures,
            base_delay=self.login_account_base_delay_seconds,
            max_delay=self.login_account_max_delay_seconds,
            reset_after=self.login_account_reset_seconds,
            client_burst=self.login_client_burst,
            client_per_second=self.login_client_per_second,
            max_keys=self.login_max_tracked_keys,
        )

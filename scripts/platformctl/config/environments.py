"""environments.yaml: the environments (names, cluster type, kube context, feature defaults), read once.

make, Terraform (yamldecode) and this module read the same file, so an environment's facts are written
in one place. `names()` is what `--env` accepts; it reads the file without the schema library, so that
`platformctl --help` and a usage error stay fast; `load()` and `get()` validate the whole file
(platformctl.config.environment_model).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from platformctl.config.paths import environments_file
from platformctl.errors import ConfigError

if TYPE_CHECKING:
    from platformctl.config.environment_model import Environment, Environments

_NAME = r"[a-z][a-z0-9]{1,15}"


def _read(text: str, source: str) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({str(exc).splitlines()[0]}); fix the syntax") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("environments"), dict) or not raw["environments"]:
        raise ConfigError(f"{source}: needs a mapping `environments:` with at least one environment")
    bad = [name for name in raw["environments"] if not re.fullmatch(_NAME, str(name))]
    if bad:
        raise ConfigError(
            f"{source}: environment name {bad[0]!r} is not 2-16 lowercase letters or digits; rename it"
        )
    return raw


def parse(text: str, source: str = "environments.yaml") -> Environments:
    """Validate the YAML text of an environments file; a problem becomes one ConfigError line."""
    from pydantic import ValidationError

    from platformctl.config import configfile
    from platformctl.config.environment_model import Environments

    raw = _read(text, source)
    try:
        return Environments.model_validate(raw)
    except ValidationError as exc:
        where, message = configfile.first_problem(exc)
        raise ConfigError(f"{source}: {where}: {message}; fix the file") from None


def _file() -> Path:
    target = environments_file()
    if not target.is_file():
        raise ConfigError(f"{target} is missing; restore it from git")
    return target


@cache
def _names_cached(path: Path, mtime_ns: int) -> tuple[str, ...]:
    return tuple(_read(path.read_text(), path.name)["environments"])


@cache
def _load_cached(path: Path, mtime_ns: int) -> Environments:
    return parse(path.read_text(), path.name)


def names() -> tuple[str, ...]:
    """The environment names, in the file's order (dev first)."""
    target = _file()
    return _names_cached(target, target.stat().st_mtime_ns)


def load() -> Environments:
    target = _file()
    return _load_cached(target, target.stat().st_mtime_ns)


def get(env: str) -> Environment:
    found = load().environments.get(env)
    if found is None:
        raise ConfigError(f"unknown ENV '{env}' (choose {', '.join(names())})")
    return found

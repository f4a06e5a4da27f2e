"""Configuration files read into pydantic models (one ConfigError line naming the file), and generated
documents written or checked."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from platformctl.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def first_problem(exc: ValidationError) -> tuple[str, str]:
    """(where, message) of a validation error's first problem; a union branch's type is left out of the
    location (`CrdChart`, `literal['templates']`) and "Value error, " out of the message."""
    first = exc.errors()[0]
    parts = [str(p).rstrip("_") for p in first["loc"] if not re.fullmatch(r"[A-Z]\w*|\w+\[.*\]", str(p))]
    return ".".join(parts) or "top level", str(first["msg"]).removeprefix("Value error, ")


def load(model: type[M], path: Path, name: str, fix: str) -> M:
    """`path` parsed as YAML and validated as `model`; `name` is how the error names the file, `fix` what
    it tells to do (appended after a `;` unless the message already says)."""
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read {name}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: invalid YAML ({str(exc).splitlines()[0]}); fix the syntax") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        where, message = first_problem(exc)
        raise ConfigError(f"{name}: {where}: {message}" + ("" if "; " in message else f"; {fix}")) from None


def write_or_check(target: Path, wanted: str, name: str, command: str, write: bool) -> int:
    """A generated document: rewrite it (`write`), or 1 with the command that does when it is stale."""
    if write:
        target.write_text(wanted)
        print(f"wrote {name}")
        return 0
    if not target.is_file() or target.read_text() != wanted:
        print(f"{name} is out of date: run `{command}`", file=sys.stderr)
        return 1
    return 0

"""The repository's Terraform files read as data (python-hcl2): the module README generator and the
Terraform tests share these helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "terraform"
MODULES = ("release-plan", "cluster-kind", "cluster-eks", "platform")
STACKS = ("cluster", "platform", "release-plan")
_HCL_OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)


def where(path: Path) -> str:
    """A path as the repository knows it (or as is, for temporary copies)."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def parse_hcl(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        try:
            return dict(hcl2.load(handle, serialization_options=_HCL_OPTIONS))
        except Exception as exc:
            raise AssertionError(f"{where(path)}: cannot parse HCL: {exc}") from exc


def tf_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.tf"))


def blocks(folder: Path, kind: str) -> list[tuple[Path, str, dict[str, Any]]]:
    """(file, name, body) of every top-level `kind` block (variable, output, module...) in a folder."""
    found = []
    for path in tf_files(folder):
        for entry in parse_hcl(path).get(kind, []):
            found.extend((path, name, body) for name, body in entry.items())
    return found


def resources(folder: Path, rtype: str) -> list[tuple[Path, str, dict[str, Any]]]:
    found = []
    for path, kind, body in blocks(folder, "resource"):
        if kind == rtype:
            found.extend((path, name, attrs) for name, attrs in body.items())
    return found


def unwrap(expr: Any) -> str:
    """`${expr}` -> `expr`; other values as text."""
    text = str(expr)
    return text[2:-1] if text.startswith("${") and text.endswith("}") else text

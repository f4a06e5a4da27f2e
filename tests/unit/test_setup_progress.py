"""The first hour: make targets pay for `platformctl setup` only when the tools changed, and a cold setup says
what it is doing (pip, checkov's venv, apt and its lock, what needs root)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from platformctl import cli
from platformctl.app import toolchain
from platformctl.config import versions
from platformctl.config.paths import repo_root
from platformctl.context import Context
from platformctl.errors import ConfigError

REPO = repo_root()
VERSIONS = (REPO / "versions.yaml").read_text()
HELM_PIN = 'version: "3.17.2"'


def _ctx() -> tuple[Context, io.StringIO]:
    err = io.StringIO()
    return Context(out=io.StringIO(), err=err), err


# --- the stamp of a successful setup -------------------------------------------------------------------


def test_the_stamp_follows_the_tools_section_only(tmp_path: Path) -> None:
    assert HELM_PIN in VERSIONS and "kind_node_image:" in VERSIONS
    variants = {
        "same": VERSIONS,
        "chart": VERSIONS.replace("kind_node_image:", "kind_node_image:  "),
        "tool": VERSIONS.replace(HELM_PIN, 'version: "3.17.3"'),
    }
    digests = {}
    for name, text in variants.items():
        (tmp_path / f"{name}.yaml").write_text(text)
        digests[name] = toolchain.tools_digest(tmp_path / f"{name}.yaml")
    assert digests["same"] == digests["chart"] == toolchain.tools_digest()
    assert digests["tool"] != digests["same"]
    assert toolchain.setup_stamp().name == f".installed-{digests['same']}"


@pytest.fixture
def tools_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATFORMCTL_TOOLS_DIR", str(tmp_path / "tools"))
    return tmp_path / "tools"


def test_setup_writes_the_stamp_and_drops_stale_ones(tools_dir: Path, monkeypatch) -> None:
    tools_dir.mkdir()
    (tools_dir / ".installed-0123456789abcdef").write_text("older tools section\n")
    monkeypatch.setattr(toolchain, "install_all", lambda _ctx, _v: [("helm", "up to date")])
    assert cli.main(["setup"]) == 0
    assert [p.name for p in tools_dir.glob(".installed-*")] == [toolchain.setup_stamp().name]


def test_a_failed_or_dry_setup_writes_no_stamp(tools_dir: Path, monkeypatch) -> None:
    assert cli.main(["setup", "--dry-run"]) == 0
    assert not toolchain.setup_stamp().exists()

    def broken(_ctx: Context, _versions: versions.Versions) -> list[tuple[str, str]]:
        raise ConfigError("download of x failed")

    monkeypatch.setattr(toolchain, "install_all", broken)
    assert cli.main(["setup"]) == ConfigError.exit_code
    assert not toolchain.setup_stamp().exists()


# --- make: setup only when the stamp is missing or stale -----------------------------------------------


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """Makefile, versions.yaml and pyproject.toml in an empty folder; a fake .venv/bin/platformctl logs its
    arguments to calls.log instead of doing anything."""
    for name in ("Makefile", "versions.yaml", "environments.yaml", "pyproject.toml"):
        shutil.copy(REPO / name, tmp_path / name)
    fake = tmp_path / ".venv" / "bin" / "platformctl"
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\necho "$*" >> calls.log\n')
    fake.chmod(0o755)
    os.utime(tmp_path / "pyproject.toml", (1_000_000_000, 1_000_000_000))
    (tmp_path / ".venv" / ".installed").touch()
    return tmp_path


def _run_make(folder: Path, *args: str, drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """`make -s` in `folder` without the caller's make settings (and the `drop` variables); must succeed."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "ENV", *drop)}
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result


def _make(folder: Path, *args: str) -> list[str]:
    """Run make in `folder`; return what the fake platformctl was called with."""
    (folder / "calls.log").unlink(missing_ok=True)
    _run_make(folder, *args, drop=("PLATFORMCTL_TOOLS_DIR",))
    log = folder / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def _stamp(folder: Path) -> Path:
    stamp = folder / ".tools" / f".installed-{toolchain.tools_digest(folder / 'versions.yaml')}"
    stamp.parent.mkdir(exist_ok=True)
    stamp.touch()
    return stamp


def test_targets_run_setup_only_without_a_current_stamp(checkout: Path) -> None:
    assert _make(checkout, "lint") == ["--env dev setup", "--env dev lint"]  # first run: no stamp yet
    stamp = _stamp(checkout)
    assert _make(checkout, "lint") == ["--env dev lint"]
    assert _make(checkout, "plan", "ENV=staging") == ["--env staging plan"]
    assert _make(checkout, "test") == ["--env dev lint", "--env dev test"]
    text = (checkout / "versions.yaml").read_text()
    (checkout / "versions.yaml").write_text(text.replace(HELM_PIN, 'version: "3.17.3"'))
    assert _make(checkout, "render") == ["--env dev setup", "--env dev render"]  # tools changed: stale
    stamp.unlink()
    _stamp(checkout)
    assert _make(checkout, "render") == ["--env dev render"]


def test_setup_always_checks_and_help_or_doctor_never_do(checkout: Path) -> None:
    _stamp(checkout)
    assert _make(checkout, "setup") == ["--env dev setup"]
    assert _make(checkout, "doctor") == ["--env dev doctor"]
    assert _make(checkout, "help") == []


def test_make_n_lint_shows_the_stamp_check() -> None:
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", "-C", str(REPO), "lint"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert ".installed-" in result.stdout and "platformctl --env dev setup" in result.stdout
    assert result.stdout.rstrip().endswith("platformctl --env dev lint")


def test_the_venv_step_says_what_it_installs_and_how_long_it_took(checkout: Path) -> None:
    """PYTHON is a fake that makes a .venv whose pip only logs; the recipe is the real one."""
    shutil.rmtree(checkout / ".venv")
    python = checkout / "fake-python"
    python.write_text(
        '#!/bin/sh\n# called as: fake-python -m venv DIR\nmkdir -p "$3/bin"\n'
        'printf \'#!/bin/sh\\necho "pip $*" >> calls.log\\n\' > "$3/bin/pip"\nchmod +x "$3/bin/pip"\n'
    )
    python.chmod(0o755)
    result = _run_make(checkout, ".venv/.installed", f"PYTHON={python}")
    first, last = result.stdout.splitlines()[0], result.stdout.splitlines()[-1]
    assert first.startswith("==> .venv: pip install -e .[dev]") and "100 packages" in first, result.stdout
    assert last.startswith("==> .venv ready: pip install took ") and last.endswith("s"), result.stdout
    assert (checkout / "calls.log").read_text().startswith("pip install -q")
    assert (checkout / ".venv" / ".installed").exists()


# --- what a cold setup prints ------------------------------------------------------------------------------


def test_checkov_venv_step_says_it_takes_minutes(monkeypatch, tools_dir: Path) -> None:
    ctx, err = _ctx()
    monkeypatch.setattr(
        toolchain.subprocess, "run", lambda args, **_kw: subprocess.CompletedProcess(args, 0, "", "")
    )
    tool = versions.load().tools["checkov"]
    monkeypatch.setattr(toolchain, "probe_version", lambda _name, _path: tool.version)
    toolchain._install_venv(ctx, "checkov", tool)
    assert f"checkov: pip install checkov=={tool.version} into its own venv" in err.getvalue()
    assert "1-3 min" in err.getvalue()


class _Apt:
    """Records the apt-get calls; the dpkg lock is held for the first `busy` checks."""

    def __init__(self, busy: int) -> None:
        self.calls: list[list[str]] = []
        self.busy = busy

    def run(self, args: list[str], **_kw: object) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(args))
        return subprocess.CompletedProcess(args, 0, "", "")

    def locked(self, _locks: object = None) -> bool:
        self.busy -= 1
        return self.busy >= 0


@pytest.fixture
def apt(monkeypatch: pytest.MonkeyPatch) -> _Apt:
    fake = _Apt(busy=2)
    monkeypatch.setattr(toolchain.os, "geteuid", lambda: 0)
    monkeypatch.setattr(toolchain.shutil, "which", lambda name: name)
    monkeypatch.setattr(toolchain.subprocess, "run", fake.run)
    monkeypatch.setattr(toolchain, "apt_locked", fake.locked)
    monkeypatch.setattr(toolchain.time, "sleep", lambda _s: None)
    return fake


def test_apt_waits_for_the_dpkg_lock_and_says_so(apt: _Apt) -> None:
    ctx, err = _ctx()
    toolchain._install_apt(ctx, "promtool", versions.load().tools["promtool"])
    assert [c[:3] for c in apt.calls] == [["apt-get", "-o", "DPkg::Lock::Timeout=300"]] * 2
    assert [c[3] for c in apt.calls] == ["update", "install"] and "prometheus" in apt.calls[1]
    lines = err.getvalue().splitlines()
    assert "==> promtool: apt-get install prometheus (needs root)" in lines
    assert lines.count("==> waiting for the dpkg lock (another apt is running)...") == 1


def test_apt_without_root_says_what_needs_root(monkeypatch) -> None:
    monkeypatch.setattr(toolchain.os, "geteuid", lambda: 1000)
    with pytest.raises(ConfigError, match=r"promtool: apt-get install prometheus \(needs root\)"):
        toolchain._install_apt(_ctx()[0], "promtool", versions.load().tools["promtool"])


def test_apt_lock_detection_sees_another_process(tmp_path: Path) -> None:
    lock = tmp_path / "lock-frontend"
    lock.touch()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(lock)!r}, os.O_RDWR)\n"
            "fcntl.lockf(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert toolchain.apt_locked([lock, tmp_path / "missing"])
    finally:
        holder.kill()
        holder.wait()
    assert not toolchain.apt_locked([lock, tmp_path / "missing"])

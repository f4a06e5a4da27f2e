"""The Makefile's variables: checked before any recipe runs, never run as make or shell code, and the
apply/plan/destroy switches passed through to platformctl (`make -n` shows the commands)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from platformctl.config.paths import repo_root

REPO = repo_root()


def _make(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def empty(tmp_path) -> Path:
    for name in ("Makefile", "environments.yaml"):  # the Makefile reads the env names from the latter
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


@pytest.mark.parametrize(
    "assignment",
    [
        "ENV=dev'$(touch pwned)'",
        "ENV=dev$(shell touch pwned)",
        "SECRET=x' || touch pwned || echo '",
        "SECRET=$(shell touch pwned)",
        "PLAN=plans;touch pwned",
        "SITE=`touch pwned`",
        "AUTO_APPROVE=$(shell touch pwned)",
    ],
    ids=[
        "env-quote",
        "env-make-function",
        "secret-quote",
        "secret-make-function",
        "plan-semicolon",
        "site-backticks",
        "flag-make-function",
    ],
)
def test_hostile_variables_stop_make_and_run_nothing(empty, assignment):
    result = _make(empty, "apply", assignment)
    assert result.returncode != 0
    assert sorted(p.name for p in empty.iterdir()) == ["Makefile", "environments.yaml"]  # no .venv, no pwned
    name = assignment.split("=", 1)[0]
    assert name in result.stderr or "unknown ENV" in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["apply", "ENV=prod", "PLAN=plans/prod-1"], "--env prod apply --plan-dir 'plans/prod-1'"),
        (["apply", "ENV=prod", "AUTO_APPROVE=1"], "--env prod apply  --auto-approve"),
        (["apply", "NO_BUILD=1"], "--env dev apply   --no-build"),
        (["plan", "ENV=prod", "PLAN=plans/prod-1"], "--env prod plan --out 'plans/prod-1'"),
        (["destroy", "ENV=prod", "AUTO_APPROVE=1"], "--env prod destroy --auto-approve"),
        (["rotate", "SECRET=users-db-password"], "--env dev rotate --secret 'users-db-password'"),
    ],
    ids=["apply-saved-plan", "apply-auto-approve", "apply-no-build", "plan-out", "destroy-prod", "rotate"],
)
def test_switches_reach_platformctl(args, expected):
    result = _make(REPO, "-n", *args)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_site_travels_in_the_environment():
    result = _make(REPO, "-n", "-p", "apply", "SITE=tools/e2e/site.yaml")
    assert "PLATFORMCTL_SITE := tools/e2e/site.yaml" in result.stdout


def test_clean_stops_the_dev_vault_and_removes_devs_terraform_dir():
    result = _make(REPO, "-n", "clean")
    assert "platformctl vault dev --stop" in result.stdout
    assert "terraform/.dev" in result.stdout.split("rm -rf", 1)[1]

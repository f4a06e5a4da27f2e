"""`platformctl smoke`: arguments, selection (--only/--skip), summary table, JUnit and exit codes.

The verb runs real pytest on a tiny fixture suite written to tmp_path (the real suite needs a cluster).
The one fake: `kube.api_client` is replaced by a no-op, since unit tests have no kube context to check.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from platformctl import cli
from platformctl.adapters import kube
from platformctl.app import smoke
from platformctl.errors import SmokeFailed, UsageError

SUITE = """
import pytest
from platformctl.app import smoke


@pytest.mark.component("users")
def test_users_ok(request):
    smoke.record(request, "users fine")


@pytest.mark.component("auth")
def test_auth_broken():
    assert 1 + 1 == 3, "auth is broken"


@pytest.mark.component("users", "notifications")
def test_shared_ok():
    pass
"""
PLAN = [
    {"name": name, "namespace": "apps", "chart": {"path": "charts/microservice"}, "values_files": []}
    for name in ("users", "auth", "notifications", "postgresql")
]


@pytest.fixture
def suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "suite"
    folder.mkdir()
    (folder / "test_tiny.py").write_text(SUITE)
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    monkeypatch.setattr(smoke, "SUITE", folder)  # absolute: repo_root() / folder is folder
    monkeypatch.setattr(kube, "api_client", lambda *_a, **_k: None)  # FAKE: no kube context here
    return tmp_path


def _smoke(suite: Path, *flags: str) -> list[str]:
    return ["smoke", "--env", "dev", "--releases", str(suite / "plan.json"), *flags]


def _rows(out: str) -> dict[str, str]:
    """check -> result from the printed summary table."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("check "))
    rows = [line.split() for line in lines[start + 2 :] if line.startswith("test_")]
    return {row[0]: row[1] for row in rows}


def test_help_lists_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["smoke", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--env", "--junit", "--only", "--entry", "--skip"):
        assert flag in out


@pytest.mark.parametrize("value", ["auth", "=reason", "auth=", " = "])
def test_malformed_skip_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["smoke", "--skip", value]) == UsageError.exit_code
    assert capsys.readouterr().err.strip() == (
        f"error: --skip expects NAME=REASON (both non-empty), got '{value}'"
    )


@pytest.mark.parametrize("flags", [["--only", "billing"], ["--skip", "billing=gone"]])
def test_unplanned_release_is_a_usage_error(suite: Path, flags: list[str], capsys) -> None:
    assert cli.main(_smoke(suite, *flags)) == UsageError.exit_code
    assert "'billing' is not a release of this env's plan" in capsys.readouterr().err


def test_failed_check_exits_7_with_table_and_junit(suite: Path, capsys) -> None:
    junit = suite / "out" / "smoke.xml"
    junit.parent.mkdir()
    assert cli.main(_smoke(suite, "--junit", str(junit))) == SmokeFailed.exit_code
    captured = capsys.readouterr()
    assert _rows(captured.out) == {
        "test_users_ok": "passed",
        "test_auth_broken": "FAILED",
        "test_shared_ok": "passed",
    }
    assert "users fine" in captured.out and "auth is broken" in captured.out
    assert "smoke tests failed (1 failing check(s)" in captured.err
    cases = {c.get("name") for c in ET.parse(junit).getroot().iter("testcase")}  # noqa: S314
    assert cases == {"test_users_ok", "test_auth_broken", "test_shared_ok"}


def test_only_runs_the_checks_of_one_release(suite: Path, capsys) -> None:
    assert cli.main(_smoke(suite, "--only", "notifications")) == 0
    assert _rows(capsys.readouterr().out) == {"test_shared_ok": "passed"}


def test_skipped_release_is_reported_with_its_reason(suite: Path, capsys) -> None:
    assert cli.main(_smoke(suite, "--skip", "auth=no image here")) == 0
    out = capsys.readouterr().out
    assert _rows(out)["test_auth_broken"] == "SKIPPED"
    assert "auth skipped by the caller: no image here" in out


def test_a_run_without_any_check_fails(suite: Path, capsys) -> None:
    assert cli.main(_smoke(suite, "--only", "postgresql")) == SmokeFailed.exit_code
    assert "the smoke suite ran no check" in capsys.readouterr().err


def test_dry_run_runs_nothing(suite: Path, capsys) -> None:
    assert cli.main([*_smoke(suite, "--skip", "auth=x"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would run the smoke suite for dev (entry auto): users, auth (skipped: x)" in out
    assert "check " not in out


def test_verdict_passes_only_clean_runs() -> None:
    assert smoke.verdict(0, [["a", "passed", ""], ["b", "SKIPPED", "why"]]) == 0
    for code, rows in [(1, [["a", "ERROR", "setup"]]), (2, []), (0, [])]:
        with pytest.raises(SmokeFailed):
            smoke.verdict(code, rows)


def test_junit_report_is_written_when_the_run_stops_before_the_suite(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """`make smoke` without a cluster: exit 6 and still the JUnit file CI uploads, with the reason."""
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    monkeypatch.delenv("PLATFORMCTL_SITE", raising=False)
    monkeypatch.delenv("PLATFORMCTL_KUBE_CONTEXT", raising=False)
    junit = tmp_path / "reports" / "smoke.xml"
    assert cli.main(_smoke(tmp_path, "--junit", str(junit))) == 6
    error = ET.parse(junit).getroot().find("testcase/error")  # noqa: S314
    assert error is not None and "no kube context found" in error.get("message", "")

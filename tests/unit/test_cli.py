"""The user-facing contract of the foundation: ENV validation, --help/--version, errors and exit codes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from platformctl import cli
from platformctl.errors import EXIT_CODES

REPO = Path(__file__).resolve().parents[2]
PLATFORMCTL = [sys.executable, "-m", "platformctl.cli"]


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, **kwargs)


def test_make_rejects_unknown_env_before_anything_runs(tmp_path: Path) -> None:
    # A copy of the Makefile (and the environments it reads) in an empty folder: if make ran any recipe it
    # would create .venv there.
    for name in ("Makefile", "environments.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    for target in ("plan", "apply", "setup", "test"):
        result = run(["make", "-C", str(tmp_path), target, "ENV=qa"])
        assert result.returncode == 2, result
        assert result.stderr.splitlines()[0] == "error: unknown ENV 'qa' (choose dev, staging, prod)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Makefile", "environments.yaml"]


def test_make_takes_the_environments_from_environments_yaml(tmp_path: Path) -> None:
    """One source: an env added to environments.yaml is accepted by make, one removed is refused."""
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    text = (REPO / "environments.yaml").read_text()
    extra = "  qa:\n    cluster_type: kind\n    kube_context: kind-platform-qa\n"
    (tmp_path / "environments.yaml").write_text(text.replace("  staging:\n", extra + "  staging:\n", 1))
    accepted = run(["make", "-s", "-C", str(tmp_path), "help", "ENV=qa"])
    assert accepted.returncode == 0, accepted.stderr
    (tmp_path / "environments.yaml").write_text(text.replace("  prod:\n", "  production:\n"))
    refused = run(["make", "-C", str(tmp_path), "help", "ENV=prod"])
    assert refused.stderr.splitlines()[0] == "error: unknown ENV 'prod' (choose dev, staging, production)"
    (tmp_path / "environments.yaml").unlink()
    missing = run(["make", "-C", str(tmp_path), "help"])
    assert missing.returncode == 2 and "environments.yaml is missing" in missing.stderr


def test_make_help_lists_every_target() -> None:
    result = run(["make", "-s", "-C", str(REPO), "help"])
    assert result.returncode == 0
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    expected = {
        "setup",
        "test",
        "lint",
        "plan",
        "apply",
        "smoke",
        "rotate",
        "destroy",
        "render",
        "bench",
        "e2e",
        "doctor",
        "clean",
        "help",
    }
    assert expected <= listed
    for line in result.stdout.splitlines():
        assert len(line.split(maxsplit=1)) == 2, f"target without a description: {line!r}"


def test_platformctl_rejects_unknown_env_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--env", "qa", "doctor"]) == 2
    assert capsys.readouterr().err.strip() == "error: unknown ENV 'qa' (choose dev, staging, prod)"


def test_env_flag_is_accepted_after_the_verb_too() -> None:
    args = cli.build_parser().parse_args(["doctor", "--env", "prod", "--dry-run"])
    assert (args.env, args.dry_run) == ("prod", True)


def test_every_verb_has_help() -> None:
    parser = cli.build_parser()
    verbs = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"setup", "doctor", "lint", "test"} <= set(verbs)
    for name in verbs:
        result = run([*PLATFORMCTL, name, "--help"], cwd=REPO)
        assert result.returncode == 0, name
        assert result.stdout.startswith(f"usage: platformctl {name}"), name


def test_version_and_exit_codes_are_documented() -> None:
    result = run([*PLATFORMCTL, "--version"])
    assert result.returncode == 0 and result.stdout.startswith("platformctl ")
    help_text = run([*PLATFORMCTL, "--help"]).stdout
    for code in (2, 3, 4, 5, 6, 7):
        assert f"  {code}  {EXIT_CODES[code]}" in help_text
    readme = (REPO / "README.md").read_text()
    for code in (2, 3, 4, 5, 6, 7):
        assert f"| {code} |" in readme, f"exit code {code} missing from README.md"


def test_unknown_verb_is_a_one_line_usage_error() -> None:
    result = run([*PLATFORMCTL, "frobnicate"])
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: argument VERB: invalid choice: 'frobnicate'")


def test_unexpected_errors_have_no_traceback_unless_verbose(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*_args: object) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("platformctl.app.doctor.run", boom)
    assert cli.main(["doctor"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "error: unexpected RuntimeError: disk on fire (rerun with --verbose for details)"
    assert cli.main(["doctor", "--verbose"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err

"""`make lint` type-checks the glue with `mypy --strict` (pyproject.toml [tool.mypy]); the step fails on a
type error, so the check cannot be green by not running."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from platformctl.app import checks

REPO = Path(__file__).resolve().parents[2]


def test_lint_runs_mypy_strict_over_the_glue() -> None:
    steps = {step.name: step.argv for step in checks.lint_steps("dev", REPO)}
    assert steps["mypy --strict"] == [sys.executable, "-m", "mypy"]
    config = (REPO / "pyproject.toml").read_text()
    assert 'files = ["scripts/platformctl"]' in config and "strict = true" in config


def test_mypy_reports_a_type_error_in_the_glue(tmp_path: Path) -> None:
    """A copy of the config and of one small module with a wrong return type: mypy exits non-zero."""
    package = tmp_path / "scripts" / "platformctl"
    package.mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (package / "__init__.py").write_text("")
    (package / "broken.py").write_text("def count() -> int:\n    return 'three'\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'broken.py:2: error: Incompatible return value type (got "str", expected "int")' in result.stdout

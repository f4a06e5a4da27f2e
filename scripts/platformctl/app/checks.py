"""`lint` and `test`: the repository's own quality gates, run the same way locally and in CI."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from platformctl.adapters.tools import find_tool
from platformctl.app import release_plan
from platformctl.app.render import values_args
from platformctl.config.paths import repo_root
from platformctl.context import Context, render_table
from platformctl.errors import ConfigError, PlatformError

# Suites that need a live cluster; `make smoke` / `make e2e` run them.
CLUSTER_SUITES = ("tests/smoke",)


class ChecksFailed(PlatformError):
    exit_code = 1


@dataclass(frozen=True)
class LintStep:
    name: str
    argv: list[str]


def _git_files(root: Path, *patterns: str) -> list[str]:
    """Tracked and untracked-but-not-ignored files matching the patterns (so .venv/.tools are skipped)."""
    result = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "--", *patterns],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return []
    return sorted({line for line in result.stdout.splitlines() if (root / line).is_file()})


def _shell_scripts(root: Path) -> list[str]:
    candidates = _git_files(root, "*.sh", ".ci/*", "scripts/*")
    scripts = []
    for name in candidates:
        path = root / name
        if name.endswith(".sh"):
            scripts.append(name)
            continue
        with path.open("rb") as handle:
            first = handle.readline()
        if first.startswith(b"#!") and (b"bash" in first or b"/sh" in first):
            scripts.append(name)
    return scripts


def helm_lint_steps(env: str, root: Path) -> list[LintStep]:
    """`helm lint --strict` of every own chart with the values of each release that uses it in `env`."""
    if not any((root / "charts").glob("*/Chart.yaml")):
        return []
    helm = str(find_tool("helm"))
    steps = []
    for release in release_plan.from_terraform(env):
        if release.chart_path:
            values, _ = values_args(release, root)
            argv = [helm, "lint", "--strict", str(root / release.chart_path), *values]
            steps.append(LintStep(f"helm lint {release.chart_path} ({release.name}, {env})", argv))
    return steps


def lint_steps(env: str, root: Path) -> list[LintStep]:
    py = sys.executable
    steps = [
        LintStep("ruff", [py, "-m", "ruff", "check", "--no-cache", "."]),
        LintStep("ruff format", [py, "-m", "ruff", "format", "--check", "--no-cache", "."]),
        LintStep("yamllint", [py, "-m", "yamllint", "--strict", "-c", ".yamllint", "."]),
    ]
    if (root / "scripts" / "platformctl").is_dir():  # files and strictness: pyproject.toml [tool.mypy]
        steps.append(LintStep("mypy --strict", [py, "-m", "mypy"]))
    if (root / "terraform").is_dir():
        steps.append(
            LintStep(
                "terraform fmt",
                [str(find_tool("terraform")), "fmt", "-check", "-recursive", "-diff", "terraform"],
            )
        )
    steps += helm_lint_steps(env, root)
    scripts = _shell_scripts(root)
    if scripts:
        steps.append(LintStep("shellcheck", [str(find_tool("shellcheck")), *scripts]))
    return steps


def lint(ctx: Context) -> int:
    root = repo_root()
    rows, failed = [], []
    for step in lint_steps(ctx.env, root):
        started = time.monotonic()
        result = subprocess.run(step.argv, cwd=root, capture_output=True, text=True, check=False)
        elapsed = f"{time.monotonic() - started:.1f}s"
        rows.append([step.name, "ok" if result.returncode == 0 else "FAIL", elapsed])
        if result.returncode != 0:
            failed.append(step.name)
            ctx.err.write(f"--- {step.name} ---\n{result.stdout}{result.stderr}\n")
        elif ctx.verbose:
            ctx.err.write(result.stdout)
    if not any(r[0].startswith("helm lint") for r in rows):
        rows.append(["helm lint", "skipped", "no chart in charts/"])
    ctx.say(render_table(["lint", "status", "time"], rows))
    if failed:
        raise ChecksFailed(
            f"lint failed: {', '.join(failed)} (details above); fix them and rerun `make lint`"
        )
    return 0


def pytest_argv(extra: list[str]) -> list[str]:
    """pytest over every suite but the cluster ones: one worker per core (pytest-xdist), the ten slowest
    tests listed at the end, JUnit XML for CI."""
    ignores = [arg for suite in CLUSTER_SUITES for arg in ("--ignore", suite)]
    parallel = ["-n", "auto", "--dist", "worksteal", "--durations=10"]
    return [sys.executable, "-m", "pytest", *ignores, *parallel, "--junitxml=reports/junit/test.xml", *extra]


def test(ctx: Context, extra: list[str]) -> int:
    """Run every suite except the cluster ones; pytest's exit 5 (no tests collected) is a failure."""
    root = repo_root()
    code = subprocess.run(pytest_argv(extra), cwd=root, check=False).returncode
    if code == 5:
        raise ConfigError("pytest collected no tests; a test run that tests nothing is a failure")
    if code != 0:
        raise ChecksFailed(f"tests failed (pytest exit {code}); see the summary above")
    return 0

"""The smoke use case: the suite (tests/smoke) as a pytest subprocess, its JUnit XML summarised, a verdict.

`check` is what `platformctl smoke`, `apply` (at the end) and `rotate` (once per consumer) all run. This
module is also the pytest plugin (`-p platformctl.app.smoke`) that applies `--only` and `--skip`: a test
names the releases it checks with `@pytest.mark.component("auth", ...)`; the choices travel to the
subprocess in PLATFORMCTL_SMOKE_* environment variables (never secrets).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from platformctl.adapters import kube
from platformctl.adapters.tools import find_tool
from platformctl.config import site
from platformctl.config.paths import repo_root
from platformctl.config.release import Release
from platformctl.context import Context, render_table
from platformctl.errors import SmokeFailed, UsageError

ENV_VAR = "PLATFORMCTL_SMOKE_ENV"
ONLY_VAR = "PLATFORMCTL_SMOKE_ONLY"
SKIP_VAR = "PLATFORMCTL_SMOKE_SKIP"
ENTRY_VAR = "PLATFORMCTL_SMOKE_ENTRY"
PLAN_VAR = "PLATFORMCTL_SMOKE_PLAN"
SUITE = Path("tests") / "smoke"
HEADERS = ["check", "result", "detail"]
SUITE_TIMEOUT = 900  # seconds; every check has its own shorter bound, this only stops a hung run


@dataclass(frozen=True)
class Options:
    env: str
    only: str | None = None
    entry: str = "auto"
    skips: tuple[tuple[str, str], ...] = ()


def components(item: pytest.Item) -> set[str]:
    """The releases a test checks (its `component` markers)."""
    return {name for mark in item.iter_markers("component") for name in mark.args}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "component(*releases): the releases a smoke check covers")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    only = os.environ.get(ONLY_VAR) or None
    skips: dict[str, str] = json.loads(os.environ.get(SKIP_VAR) or "{}")
    if only:
        kept = [item for item in items if only in components(item)]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
    for item in items:
        hit = sorted(components(item) & skips.keys())
        if hit:
            reason = "; ".join(f"{name} skipped by the caller: {skips[name]}" for name in hit)
            item.add_marker(pytest.mark.skip(reason=reason))


def _environment(options: Options, plan_file: Path | None) -> dict[str, str]:
    environ = dict(os.environ)
    environ[ENV_VAR] = options.env
    environ[ONLY_VAR] = options.only or ""
    environ[ENTRY_VAR] = options.entry
    environ[SKIP_VAR] = json.dumps(dict(options.skips))
    if plan_file is not None:
        environ[PLAN_VAR] = str(plan_file)
    # testinfra's kubectl backend runs `kubectl` from PATH: the pinned one first.
    environ["PATH"] = f"{find_tool('kubectl').parent}{os.pathsep}{environ.get('PATH', '')}"
    return environ


def run(
    options: Options,
    junit: Path | None,
    suite: Path | None = None,
    plan_file: Path | None = None,
) -> tuple[int, list[list[str]]]:
    """Run the suite; returns pytest's exit code and the summary rows (check, result, detail)."""
    with tempfile.TemporaryDirectory(prefix="smoke-") as tmp:
        report = junit or Path(tmp) / "junit.xml"
        args = [
            sys.executable,
            "-m",
            "pytest",
            str(suite or repo_root() / SUITE),
            "-p",
            "platformctl.app.smoke",
        ]
        args += ["-q", "-rN", "--tb=line", "--no-header", "-p", "no:cacheprovider", f"--junitxml={report}"]
        args += ["-o", "junit_family=xunit1", "-o", "addopts="]
        proc = subprocess.run(
            args, cwd=repo_root(), env=_environment(options, plan_file), timeout=SUITE_TIMEOUT, check=False
        )
        rows = summary(report) if report.is_file() else []
    return proc.returncode, rows


def _detail(element: ET.Element) -> str:
    text = element.get("message") or element.text or ""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return (lines[0] if lines else "")[:160]


def _row(case: ET.Element) -> list[str]:
    name = case.get("name", "?")
    for tag, result in (("failure", "FAILED"), ("error", "ERROR"), ("skipped", "SKIPPED")):
        found = case.find(tag)
        if found is not None:
            detail = _detail(found)
            return [name, result, detail.removeprefix("Skipped: ") if result == "SKIPPED" else detail]
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    return [name, "passed", props.get("detail") or ""]


def summary(junit: Path) -> list[list[str]]:
    """One row per test case of a JUnit XML report (written by our own pytest run, not untrusted input)."""
    root = ET.parse(junit).getroot()  # noqa: S314
    return [_row(case) for case in root.iter("testcase")]


def failed(rows: list[list[str]]) -> bool:
    return any(row[1] in ("FAILED", "ERROR") for row in rows)


def record(request: Any, detail: str) -> None:
    """Attach a one-line detail to the passing check's summary row (a JUnit property)."""
    request.node.user_properties.append(("detail", detail))


# --- the use case ---------------------------------------------------------------------------------------


def check_names(plan: list[Release], only: str | None, skips: tuple[tuple[str, str], ...]) -> None:
    """--only and --skip must name planned releases: a typo would silently check nothing."""
    names = [r.name for r in plan]
    for name in [*([only] if only else []), *(n for n, _ in skips)]:
        if name not in names:
            raise UsageError(f"'{name}' is not a release of this env's plan (choose {', '.join(names)})")


def write_plan(plan: list[Release], folder: Path) -> Path:
    path = folder / "plan.json"
    path.write_text(json.dumps([asdict(r) for r in plan]))
    return path


def describe(plan: list[Release], options: Options) -> str:
    skipped = dict(options.skips)
    names = [r.name for r in plan if not options.only or r.name == options.only]
    checked = ", ".join(f"{n} (skipped: {skipped[n]})" if n in skipped else n for n in names)
    return f"would run the smoke suite for {options.env} (entry {options.entry}): {checked}"


def verdict(code: int, rows: list[list[str]]) -> int:
    """0 when every check passed or was skipped with a reason; SmokeFailed otherwise."""
    if failed(rows) or code not in (0, 5) or (code == 5 and rows):
        failures = sum(row[1] in ("FAILED", "ERROR") for row in rows)
        raise SmokeFailed(
            f"smoke tests failed ({failures} failing check(s), pytest exit {code}); see the table above"
        )
    if not rows:
        raise SmokeFailed("the smoke suite ran no check; check --only and the release plan")
    return 0


def check(
    ctx: Context,
    plan: list[Release],
    only: str | None = None,
    entry: str = "auto",
    given: tuple[tuple[str, str], ...] = (),
    junit: Path | None = None,
) -> int:
    """Run the suite for ctx.env's `plan` and print its table; 0, or SmokeFailed when a check failed.

    Planned releases the site profile does not install are reported as skipped with its reason, after
    `given` (--skip) ones."""
    names = {r.name for r in plan}
    site_skips = tuple(sorted((n, why) for n, why in site.load().skip_releases.items() if n in names))
    skips = site_skips + given
    check_names(plan, only, skips)
    kube.api_client(ctx.env)  # refuses a missing or foreign kube context before any check runs
    options = Options(ctx.env, only, entry, skips)
    if ctx.dry_run:  # the suite creates a user and objects: a dry run only says what it would check
        ctx.say(describe(plan, options))
        return 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="smoke-plan-") as tmp, ctx.step("smoke suite"):
        code, rows = run(options, junit, plan_file=write_plan(plan, Path(tmp)))
    ctx.say(render_table(HEADERS, rows))
    ctx.say(f"smoke duration: {time.monotonic() - started:.1f}s")
    return verdict(code, rows)

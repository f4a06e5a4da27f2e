"""`platformctl smoke`: the post-deploy smoke suite (tests/smoke) against ENV's cluster."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path
from typing import Any

from platformctl import kube, release_plan, site, smoke
from platformctl.context import Context, render_table
from platformctl.errors import PlatformError, SmokeFailed, UsageError
from platformctl.values import Release

ENTRIES = ("auto", "traefik", "port-forward")


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "smoke",
        help="post-deploy smoke tests (testinfra + HTTP) against the current kube context",
        description="Checks ENV's planned releases on the cluster of the current kube context: releases "
        "healthy, pods Ready, images pinned, pod hardening, /healthz and /readyz, the seed flow, the object "
        "store, monitoring. Prints a summary table; exit 7 when a check fails.",
    )
    parser.add_argument("--junit", type=Path, metavar="PATH", help="write a JUnit XML report to PATH")
    parser.add_argument("--only", metavar="COMPONENT", help="run only the checks of this release")
    parser.add_argument("--entry", choices=ENTRIES, default="auto",
                        help="HTTP entry point: traefik, a port-forward per service, or auto (traefik "
                        "when deployed)")  # fmt: skip
    parser.add_argument("--skip", action="append", default=[], metavar="NAME=REASON",
                        help="report release NAME's checks as skipped with REASON (repeatable)")  # fmt: skip
    parser.add_argument("--releases", type=Path, metavar="FILE",
                        help="release list as JSON (`terraform output -json releases`); "
                        "default: apply terraform/stacks/release-plan for ENV")  # fmt: skip
    parser.set_defaults(handler=handle)
    return parser


def parse_skips(values: list[str]) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for value in values:
        name, sep, reason = value.partition("=")
        if not sep or not name.strip() or not reason.strip():
            raise UsageError(f"--skip expects NAME=REASON (both non-empty), got '{value}'")
        pairs.append((name.strip(), reason.strip()))
    return tuple(pairs)


def check_names(plan: list[Release], only: str | None, skips: tuple[tuple[str, str], ...]) -> None:
    """--only and --skip must name planned releases: a typo would silently check nothing."""
    names = [r.name for r in plan]
    for name in [*([only] if only else []), *(n for n, _ in skips)]:
        if name not in names:
            raise UsageError(f"'{name}' is not a release of this env's plan (choose {', '.join(names)})")


def planned(args: argparse.Namespace, ctx: Context) -> list[Release]:
    if args.releases:
        return release_plan.from_file(args.releases)
    with ctx.step(f"release plan ({ctx.env})"):
        return release_plan.from_terraform(ctx.env)


def write_plan(plan: list[Release], folder: Path) -> Path:
    path = folder / "plan.json"
    path.write_text(json.dumps([asdict(r) for r in plan]))
    return path


def handle(args: argparse.Namespace, ctx: Context) -> int:
    try:
        return _handle(args, ctx)
    except SmokeFailed:
        raise  # the suite ran and wrote its own report
    except PlatformError as exc:
        if args.junit and not ctx.dry_run:  # the report CI uploads exists also when no check could run
            write_error_report(args.junit, exc)
        raise


def write_error_report(path: Path, error: PlatformError) -> None:
    """A JUnit file with one error case, for a run that stopped before the suite started."""
    suite = ET.Element("testsuite", name="smoke", tests="1", errors="1", failures="0", skipped="0")
    case = ET.SubElement(suite, "testcase", classname="smoke", name="preconditions")
    ET.SubElement(case, "error", message=str(error), type=type(error).__name__)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def _handle(args: argparse.Namespace, ctx: Context) -> int:
    given = parse_skips(args.skip)
    plan = planned(args, ctx)
    # Planned releases the site profile does not install are reported as skipped with its reason.
    names = {r.name for r in plan}
    site_skips = tuple(sorted((n, why) for n, why in site.load().skip_releases.items() if n in names))
    skips = site_skips + given
    check_names(plan, args.only, skips)
    kube.api_client(ctx.env)  # refuses a missing or foreign kube context before any check runs
    options = smoke.Options(ctx.env, args.only, args.entry, skips)
    if ctx.dry_run:  # the suite creates a user and objects: a dry run only says what it would check
        ctx.say(describe(plan, options))
        return 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="smoke-plan-") as tmp, ctx.step("smoke suite"):
        code, rows = smoke.run(options, args.junit, plan_file=write_plan(plan, Path(tmp)))
    ctx.say(render_table(smoke.HEADERS, rows))
    ctx.say(f"smoke duration: {time.monotonic() - started:.1f}s")
    return verdict(code, rows)


def describe(plan: list[Release], options: smoke.Options) -> str:
    skipped = dict(options.skips)
    names = [r.name for r in plan if not options.only or r.name == options.only]
    checked = ", ".join(f"{n} (skipped: {skipped[n]})" if n in skipped else n for n in names)
    return f"would run the smoke suite for {options.env} (entry {options.entry}): {checked}"


def verdict(code: int, rows: list[list[str]]) -> int:
    """0 when every check passed or was skipped with a reason; SmokeFailed otherwise."""
    if smoke.failed(rows) or code not in (0, 5) or (code == 5 and rows):
        failures = sum(row[1] in ("FAILED", "ERROR") for row in rows)
        raise SmokeFailed(f"smoke tests failed ({failures} failing check(s), pytest exit {code}); "
                          "see the table above")  # fmt: skip
    if not rows:
        raise SmokeFailed("the smoke suite ran no check; check --only and the release plan")
    return 0

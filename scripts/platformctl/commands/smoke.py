"""`platformctl smoke`: the post-deploy smoke suite (tests/smoke) against ENV's cluster."""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from platformctl.app import smoke
from platformctl.commands import arguments
from platformctl.context import Context
from platformctl.errors import PlatformError, SmokeFailed, UsageError

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
    parser.add_argument(
        "--entry",
        choices=ENTRIES,
        default="auto",
        help="HTTP entry point: traefik, a port-forward per service, or auto (traefik when deployed)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="NAME=REASON",
        help="report release NAME's checks as skipped with REASON (repeatable)",
    )
    arguments.add_releases(parser)
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
    return smoke.check(ctx, arguments.planned(args, ctx), args.only, args.entry, given, args.junit)

"""`platformctl bench`: run every benchmark of the repository and print its figures (not a test)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from typing import Any

from platformctl.context import Context, render_table
from platformctl.errors import PlatformError
from platformctl.paths import repo_root

# (name, argv relative to the repo root). Each prints its own figures and exits 0.
BENCHMARKS: list[tuple[str, list[str]]] = [
    ("setup (second run)", ["-m", "platformctl.cli", "setup"]),
    ("charts render + validate", ["tests/charts/bench_render.py"]),
    ("secrets sync (200 secrets)", ["-m", "platformctl.bench_secrets"]),
    ("services", ["services/bench.py"]),
]


class BenchFailed(PlatformError):
    exit_code = 1


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "bench",
        help="run the benchmarks and print their figures",
        description="Run each benchmark (setup rerun, chart rendering, secrets sync, services) in turn; "
        "each prints its own figures. Speed targets are checked here, never in tests.",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only benchmarks whose name contains NAME (repeatable)",
    )
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    rows, failed = [], []
    for name, argv in BENCHMARKS:
        if args.only and not any(word in name for word in args.only):
            continue
        ctx.progress(f"benchmark: {name}")
        started = time.monotonic()
        code = subprocess.run([sys.executable, *argv], cwd=repo_root(), check=False).returncode
        rows.append([name, "ok" if code == 0 else f"FAIL ({code})", f"{time.monotonic() - started:.1f}s"])
        if code:
            failed.append(name)
    ctx.say(render_table(["benchmark", "status", "wall"], rows))
    if failed:
        raise BenchFailed(f"benchmarks failed: {', '.join(failed)}")
    return 0

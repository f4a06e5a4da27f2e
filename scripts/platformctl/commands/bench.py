"""`platformctl bench`: run the benchmarks, set each figure against a reference measured in the same run.

Absolute times on a shared machine are noise, so a goal is a RATIO to a reference that the same benchmark
measures in the same run, on the same machine, under the same load: e.g. the secrets sync against a plain
sequential loop of the same Vault reads and Secret applies. The table shows figure, reference, ratio, goal
and a verdict ("ok" or "MISS"), decided from the ratio as printed. The command exits 0 whatever the
figures (they are information); with --check a missed goal is an error (exit 1, one line naming the rows).

Protocol of a benchmark script (tools/charts/bench_render.py, platformctl.app.bench_secrets,
services/bench.py):
it prints its own figures for a human, writes {"rows": [ROW, ...]} as JSON to the file named by its
`--json FILE` argument, and exits 0 when it measured something; ROW is

    {"name": str, "unit": str, "figure": float, "reference": float | null, "reference_is": str,
     "goal": {"min": float | null, "max": float | null}}

The goal bounds the ratio figure/reference, or the figure itself when reference is null. A script that
exits non-zero, times out or writes no rows gives one MISS row saying so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformctl.config.paths import repo_root
from platformctl.context import Context, render_table
from platformctl.errors import PlatformError, UsageError

DIGITS = 2  # ratios (and figures) are printed with two decimals; the verdict is taken from what is printed
SCRIPT_TIMEOUT = 300.0  # seconds; each benchmark bounds itself well below this (services: about a minute)
HEADERS = ["benchmark", "figure", "reference", "ratio", "goal", "verdict"]


@dataclass(frozen=True)
class Goal:
    """Bounds on the ratio (or on the figure when a row has no reference); at least one is set."""

    min: float | None = None
    max: float | None = None

    def met(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def text(self, unit: str = "") -> str:
        suffix = f" {unit}" if unit else ""
        if self.min is not None and self.max is not None:
            return f"{self.min:.{DIGITS}f}..{self.max:.{DIGITS}f}{suffix}"
        if self.max is not None:
            return f"<= {self.max:.{DIGITS}f}{suffix}"
        return f">= {self.min:.{DIGITS}f}{suffix}"


@dataclass(frozen=True)
class Row:
    name: str
    unit: str
    figure: float | None
    reference: float | None
    reference_is: str
    goal: Goal | None
    error: str | None = None

    @classmethod
    def failed(cls, name: str, error: str) -> Row:
        return cls(name, "", None, None, "", None, error)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Row:
        """A row as a benchmark script wrote it; ValueError/KeyError/TypeError when it is malformed."""
        goal = data["goal"]
        low, high = goal.get("min"), goal.get("max")
        if low is None and high is None:
            raise ValueError(f"row {data['name']!r}: a goal needs min or max")
        reference = data.get("reference")
        return cls(
            name=str(data["name"]),
            unit=str(data.get("unit", "")),
            figure=float(data["figure"]),
            reference=None if reference is None else float(reference),
            reference_is=str(data.get("reference_is", "")),
            goal=Goal(None if low is None else float(low), None if high is None else float(high)),
        )

    @property
    def ratio(self) -> float | None:
        if self.figure is None or self.reference is None or self.reference <= 0:
            return None
        return self.figure / self.reference

    @property
    def judged(self) -> float | None:
        """What the goal bounds, rounded as printed: the ratio, or the figure when there is no reference."""
        value = self.figure if self.reference is None else self.ratio
        return None if value is None else float(f"{value:.{DIGITS}f}")

    @property
    def verdict(self) -> str:
        if self.error is not None or self.goal is None or self.judged is None:
            return "MISS"
        return "ok" if self.goal.met(self.judged) else "MISS"

    def why(self) -> str:
        """Why the row missed, for the one-line error of --check."""
        if self.error is not None:
            return self.error
        if self.judged is None or self.goal is None:
            return "no ratio (reference is zero)"
        what = "ratio" if self.reference is not None else "figure"
        return f"{what} {self.judged:.{DIGITS}f}, goal {self.goal.text()}"

    def cells(self) -> list[str]:
        if self.error is not None:
            return [self.name, f"failed: {self.error}", "-", "-", "-", self.verdict]
        assert self.figure is not None and self.goal is not None
        unit = f" {self.unit}" if self.unit else ""
        figure = f"{self.figure:.{DIGITS}f}{unit}"
        if self.reference is None:
            return [self.name, figure, "-", "-", self.goal.text(self.unit), self.verdict]
        reference = f"{self.reference:.{DIGITS}f}{unit} {self.reference_is}".rstrip()
        ratio = "-" if self.ratio is None else f"{self.ratio:.{DIGITS}f}"
        return [self.name, figure, reference, ratio, self.goal.text(), self.verdict]


def table(rows: list[Row]) -> str:
    return render_table(HEADERS, [row.cells() for row in rows])


class GoalsMissed(PlatformError):
    """`bench --check` with a row that missed its goal; the generic failure code (see EXIT_CODES)."""

    exit_code = PlatformError.exit_code


# --- running the benchmarks ----------------------------------------------------------------------------


def run_script(name: str, argv: list[str], timeout: float = SCRIPT_TIMEOUT) -> list[Row]:
    """Run `python ARGV --json FILE` from the repository root; its output goes straight to the terminal."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "rows.json"
        proc = subprocess.Popen(
            [sys.executable, *argv, "--json", str(out)], cwd=repo_root(), preexec_fn=_default_sigint
        )
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _interrupt(proc)
            return [Row.failed(name, f"timed out after {timeout:.0f}s")]
        except KeyboardInterrupt:  # the child got the same SIGINT: let it clean up (servers, databases)
            _interrupt(proc, signal_first=False)
            raise
        if code != 0:
            return [Row.failed(name, f"exited {code}")]
        try:
            rows = [Row.from_json(row) for row in json.loads(out.read_text())["rows"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            return [Row.failed(name, f"no valid figures written ({type(exc).__name__})")]
        return rows or [Row.failed(name, "no figures written")]


def _default_sigint() -> None:
    """In the benchmark child: Ctrl-C's default disposition, even when bench runs as a background job
    (which starts with SIGINT ignored), so that `_interrupt` lets it clean up instead of waiting for it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(proc: subprocess.Popen[bytes], signal_first: bool = True) -> None:
    """Stop one benchmark process we started: SIGINT (it cleans up, as on Ctrl-C), then SIGKILL."""
    if signal_first:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


SETUP_ROUNDS = 3


def setup_rows(rounds: int = SETUP_ROUNDS) -> list[Row]:
    """Second run of `platformctl setup` against what it would cost without stamps: the CLI starting plus
    every pinned tool's version command, run one after another. Rounds alternate their order; medians."""
    from platformctl.adapters.tools import find_tool
    from platformctl.app import toolchain
    from platformctl.config import versions

    name = "setup (second run)"
    cli = [sys.executable, "-m", "platformctl.cli"]
    # A second run downloads nothing; should it try (tools missing), pip may not reach an index.
    env = {**os.environ, "PIP_NO_INDEX": "1"}
    try:
        tools = [(tool, find_tool(tool)) for tool in versions.load().tools]
    except PlatformError as exc:
        return [Row.failed(name, f"{exc}")]

    def reference() -> float:
        started = time.perf_counter()
        subprocess.run([*cli, "--version"], capture_output=True, check=True, timeout=60)
        for tool, path in tools:
            toolchain.probe_version(tool, path)
        return time.perf_counter() - started

    def figure() -> float:
        started = time.perf_counter()
        result = subprocess.run(
            [*cli, "setup"], capture_output=True, text=True, env=env, timeout=120, check=False
        )
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no message"])[-1]
            raise _SetupNotRepeatable(f"setup exited {result.returncode}: {last}")
        if re.search(r"\binstalled\b", result.stdout):
            raise _SetupNotRepeatable("setup installed tools, so this was not a second run; run it again")
        return elapsed

    try:
        refs, figs = alternate(rounds, reference, figure)
    except _SetupNotRepeatable as exc:
        return [Row.failed(name, str(exc))]
    except (subprocess.SubprocessError, OSError) as exc:
        return [Row.failed(name, f"{type(exc).__name__}: {exc}")]
    print(
        f"setup second run: {' '.join(f'{f:.2f}s' for f in figs)}; CLI start + {len(tools)} version "
        f"probes: {' '.join(f'{r:.2f}s' for r in refs)}",
        flush=True,
    )
    reference_is = "(CLI start + version probes)"
    return [Row(name, "s", statistics.median(figs), statistics.median(refs), reference_is, Goal(max=0.5))]


class _SetupNotRepeatable(Exception):
    pass


def alternate(
    rounds: int, reference: Callable[[], float], figure: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """Measure both `rounds` times, alternating which goes first, so that drift hits both alike."""
    refs: list[float] = []
    figs: list[float] = []
    for i in range(rounds):
        if i % 2 == 0:
            refs.append(reference())
            figs.append(figure())
        else:
            figs.append(figure())
            refs.append(reference())
    return refs, figs


Benchmark = Callable[[], list[Row]]


def _script(name: str, *argv: str) -> Benchmark:
    return lambda: run_script(name, list(argv))


# (name, how to run it). Each returns its rows; figures and their references come from the same run.
BENCHMARKS: list[tuple[str, Benchmark]] = [
    ("setup (second run)", setup_rows),
    ("charts render + validate", _script("charts render + validate", "tools/charts/bench_render.py")),
    (
        "secrets sync (200 secrets)",
        _script("secrets sync (200 secrets)", "-m", "platformctl.app.bench_secrets"),
    ),
    ("services", _script("services", "services/bench.py")),
]


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "bench",
        help="run the benchmarks and print their figures",
        description="Run each benchmark (setup rerun, chart rendering, secrets sync, services) in turn. Each "
        "figure is set against a reference measured in the same run on this machine (e.g. the secrets sync "
        "against a plain sequential loop of the same Vault reads and Secret applies); the goal bounds their "
        "ratio, so a loaded machine slows both alike. Prints figure, reference, ratio, goal and a verdict "
        "(ok or MISS) per row and exits 0, unless --check is given. Speed goals are checked here, never in "
        "tests. Runs on loopback only (OpenBao, a stand-in Kubernetes API, the machine's PostgreSQL and "
        "RabbitMQ); takes about two minutes.",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only benchmarks whose name contains NAME (repeatable)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="fail (exit 1, one line naming the rows) when any row misses its goal or a benchmark fails; "
        "without it the exit code is 0 whatever the figures",
    )
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    chosen = [(name, run) for name, run in BENCHMARKS if not args.only or any(w in name for w in args.only)]
    if not chosen:
        names = ", ".join(name for name, _ in BENCHMARKS)
        raise UsageError(f"no benchmark matches --only {' '.join(args.only)} (benchmarks: {names})")
    rows: list[Row] = []
    for name, run in chosen:
        ctx.progress(f"benchmark: {name}")
        started = time.monotonic()
        rows += run()
        ctx.debug(f"{name}: {time.monotonic() - started:.1f}s")
    ctx.say(table(rows))
    missed = [row for row in rows if row.verdict != "ok"]
    if not missed:
        return 0
    summary = "; ".join(f"{row.name} ({row.why()})" for row in missed)
    if args.check:
        raise GoalsMissed(f"{len(missed)} of {len(rows)} benchmark rows missed their goal: {summary}")
    ctx.progress(f"{len(missed)} of {len(rows)} rows missed their goal (exit 0; --check makes this fail)")
    return 0

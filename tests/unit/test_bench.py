"""`platformctl bench`: verdicts from ratios, the table, exit 0 without --check, one line with it.

No timing is asserted here: the benchmarks are replaced by fixed rows or tiny scripts."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from platformctl import cli
from platformctl.commands import bench
from platformctl.commands.bench import Goal, Row
from platformctl.context import Context
from platformctl.errors import EXIT_CODES, PlatformError


def _row(name: str, figure: float, reference: float | None, low=None, high=None, unit: str = "s") -> Row:
    return Row(name, unit, figure, reference, "(ref)" if reference is not None else "", Goal(low, high))


def test_22s_against_a_10s_goal_is_a_miss() -> None:
    # The case of the issue: render + validate took 22 s against its 10 s goal and was marked "ok".
    assert _row("charts render + validate", 22.0, None, high=10.0).verdict == "MISS"
    # The same miss as a ratio: 22 s against a 10 s reference measured in the same run, goal <= 1.
    as_ratio = _row("charts render + validate", 22.0, 10.0, high=1.0)
    assert as_ratio.ratio == pytest.approx(2.2)
    assert as_ratio.verdict == "MISS"
    assert as_ratio.why() == "ratio 2.20, goal <= 1.00"


@pytest.mark.parametrize(
    ("figure", "reference", "low", "high", "verdict"),
    [
        (2.19, 2.0, None, 1.5, "ok"),  # the secrets case: 1.10 of the plain loop is within <= 1.5
        (3.1, 2.0, None, 1.5, "MISS"),  # 1.55
        (8.0, 10.0, 0.9, None, "MISS"),  # logins at 0.80 of the bcrypt bound, goal >= 0.9
        (9.5, 10.0, 0.9, None, "ok"),
        (300.0, 310.0, 0.8, 1.25, "ok"),  # 401 timings: unknown user vs wrong password
        (5.0, 310.0, 0.8, 1.25, "MISS"),  # an unknown user answered without the dummy hash
        (400.0, 310.0, 0.8, 1.25, "MISS"),
        (1.0, 0.0, None, 1.5, "MISS"),  # no usable reference: never ok
        (float("nan"), 1.0, None, 1.5, "MISS"),
    ],
)
def test_verdict_follows_the_goal(figure, reference, low, high, verdict) -> None:
    assert _row("r", figure, reference, low, high).verdict == verdict


def test_verdict_is_taken_from_the_printed_ratio() -> None:
    # 1.5049 prints as 1.50: the row says ok next to "1.50 <= 1.50"; 1.5051 prints as 1.51 and misses.
    assert _row("r", 1.5049, 1.0, high=1.5).cells()[3:] == ["1.50", "<= 1.50", "ok"]
    assert _row("r", 1.5051, 1.0, high=1.5).cells()[3:] == ["1.51", "<= 1.50", "MISS"]


def test_every_row_of_the_table_has_a_consistent_verdict() -> None:
    rows = [
        _row("secrets", 0.58, 0.62, high=1.5),
        _row("render", 22.0, 10.0, high=1.0),
        _row("logins", 5.0, 5.5, low=0.9),
        _row("absolute", 22.0, None, high=10.0),
        Row.failed("services", "exited 1"),
    ]
    lines = bench.table(rows).splitlines()
    assert lines[0].split() == ["benchmark", "figure", "reference", "ratio", "goal", "verdict"]
    verdicts = [line.split()[-1] for line in lines[2:]]
    assert verdicts == ["ok", "MISS", "ok", "MISS", "MISS"]
    for row in rows:
        assert row.verdict == ("ok" if row.goal and row.goal.met(row.judged or float("nan")) else "MISS")
    assert "0.58 s" in lines[2] and "0.62 s (ref)" in lines[2] and "0.94" in lines[2]
    assert "failed: exited 1" in lines[6]


def test_rounds_alternate_which_side_goes_first() -> None:
    calls: list[str] = []
    refs, figs = bench.alternate(3, lambda: calls.append("ref") or 1.0, lambda: calls.append("fig") or 2.0)
    assert calls == ["ref", "fig", "fig", "ref", "ref", "fig"]
    assert (refs, figs) == ([1.0] * 3, [2.0] * 3)


def test_row_from_json_needs_a_bound() -> None:
    data = {"name": "x", "unit": "s", "figure": 1.0, "reference": 2.0, "reference_is": "", "goal": {}}
    with pytest.raises(ValueError, match="needs min or max"):
        Row.from_json(data)
    row = Row.from_json({**data, "goal": {"max": 0.6}})
    assert (row.ratio, row.verdict) == (0.5, "ok")


# --- the verb: exit codes -------------------------------------------------------------------------------


@pytest.fixture
def run_bench(monkeypatch, capsys):
    """Run `platformctl bench ARGV` in-process with the given rows; return (code, stdout, stderr), where
    stderr holds the progress lines and then the error line cli.main prints."""

    def run(rows: list[Row], *argv: str) -> tuple[int, str, str]:
        monkeypatch.setattr(bench, "BENCHMARKS", [("fake", lambda: rows)])
        out, err = io.StringIO(), io.StringIO()
        monkeypatch.setattr(cli, "Context", lambda: Context(out=out, err=err))
        code = cli.main(["bench", *argv])
        captured = capsys.readouterr()
        return code, out.getvalue() + captured.out, err.getvalue() + captured.err

    return run


MISSED = [_row("secrets sync", 0.6, 0.62, high=1.5), _row("charts render + validate", 22.0, 10.0, high=1.0)]


def test_a_miss_exits_0_without_check(run_bench) -> None:
    code, out, err = run_bench(MISSED)
    assert code == 0
    assert "MISS" in out and out.count(" ok") == 1
    assert "1 of 2 rows missed their goal" in err and "error" not in err


def test_a_miss_with_check_fails_with_one_line(run_bench) -> None:
    code, out, err = run_bench(MISSED, "--check")
    assert code == PlatformError.exit_code != 0
    assert code in EXIT_CODES
    assert "MISS" in out  # the table is printed before the error
    lines = err.strip().splitlines()
    assert lines[-1] == (
        "error: 1 of 2 benchmark rows missed their goal: charts render + validate (ratio 2.20, goal <= 1.00)"
    )
    assert [line for line in lines if line.startswith("error")] == lines[-1:]
    assert "secrets sync" not in lines[-1]


def test_all_ok_with_check_exits_0(run_bench) -> None:
    code, _, err = run_bench(MISSED[:1], "--check")
    assert code == 0 and "error" not in err


def test_only_matching_nothing_is_a_usage_error(run_bench) -> None:
    code, _, err = run_bench(MISSED, "--only", "nothing")
    assert code == 2 and "no benchmark matches --only nothing (benchmarks: fake)" in err


def test_help_documents_check(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["bench", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--check" in text and "exits 0, unless --check is given" in text
    assert "one line naming the rows" in text


# --- the protocol of a benchmark script -----------------------------------------------------------------


def test_script_rows_are_read_from_its_json_file() -> None:
    row = {
        "name": "tiny",
        "unit": "s",
        "figure": 3,
        "reference": 2,
        "reference_is": "(loop)",
        "goal": {"max": 1},
    }
    code = f"import json, sys; open(sys.argv[2], 'w').write(json.dumps({{'rows': [{row!r}]}}))"
    [result] = bench.run_script("tiny", ["-c", code])
    assert (result.name, result.ratio, result.verdict) == ("tiny", 1.5, "MISS")


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("import sys; sys.exit(3)", "exited 3"),
        ("pass", "no valid figures written (FileNotFoundError)"),
        ("import sys; open(sys.argv[2], 'w').write('{\"rows\": []}')", "no figures written"),
        (
            "import sys; open(sys.argv[2], 'w').write('{\"rows\": [{}]}')",
            "no valid figures written (KeyError)",
        ),
    ],
)
def test_a_failed_script_is_one_miss_row(code: str, error: str) -> None:
    [result] = bench.run_script("broken", ["-c", code])
    assert (result.name, result.error, result.verdict) == ("broken", error, "MISS")


def test_a_script_over_its_time_is_stopped_and_a_miss() -> None:
    [result] = bench.run_script("slow", ["-c", "import time; time.sleep(60)"], timeout=1)
    assert (result.error, result.verdict) == ("timed out after 1s", "MISS")


def test_a_script_over_its_time_gets_ctrl_c_even_from_a_background_job(tmp_path: Path) -> None:
    """A shell starts background jobs with SIGINT ignored and children inherit that: the stopped script
    must still get its KeyboardInterrupt (to clean up its servers), not wait for the SIGKILL 30 s later."""
    marker = tmp_path / "cleaned-up"
    script = (
        "import sys, time\n"
        "try:\n    time.sleep(60)\n"
        f"except KeyboardInterrupt:\n    open({str(marker)!r}, 'w').close()\n    sys.exit(1)\n"
    )
    inherited = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        [result] = bench.run_script("slow", ["-c", script], timeout=1)
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert result.error == "timed out after 1s"
    assert marker.exists()


def test_the_scripts_take_json() -> None:
    """Every benchmark but the setup rerun is a script that follows the protocol above."""
    scripts = [name for name, run in bench.BENCHMARKS if run is not bench.setup_rows]
    assert scripts == ["charts render + validate", "secrets sync (200 secrets)", "services"]
    for argv in (
        ["tools/charts/bench_render.py"],
        ["-m", "platformctl.app.bench_secrets"],
        ["services/bench.py"],
    ):
        result = subprocess.run(
            [sys.executable, *argv, "--help"], capture_output=True, text=True, check=False, timeout=60
        )
        assert result.returncode == 0 and "--json" in result.stdout, (argv, result.stderr)

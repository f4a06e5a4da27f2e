"""The secrets benchmark for real, made small: its own OpenBao dev server and FakeKubeAPI process on
loopback, 20 Secrets, 2 rounds. What is checked is that the ratio's reference was measured in the same run
(the plain loop really read and applied every Secret), never how fast anything was."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from platformctl.commands.bench import Row

REPO = Path(__file__).resolve().parents[2]


def test_secrets_benchmark_reports_a_ratio_to_a_reference_from_the_same_run(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    argv = [sys.executable, "-m", "platformctl.app.bench_secrets", "--count", "20", "--rounds", "2"]
    result = subprocess.run(
        [*argv, "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    written = json.loads(out.read_text())
    figures = written["figures"]
    # Both sides ran in this run, each round into an empty namespace: 20 applies per side and round.
    assert figures["applies"] == {"sync": 40, "reference": 40}
    assert len(figures["sync_s"]) == len(figures["reference_s"]) == 2
    assert all(t > 0 for t in figures["sync_s"] + figures["reference_s"])

    [raw] = written["rows"]
    assert raw["name"] == "secrets sync (20 secrets)"
    assert raw["figure"] == statistics.median(figures["sync_s"])
    assert raw["reference"] == statistics.median(figures["reference_s"])
    row = Row.from_json(raw)
    assert row.ratio == raw["figure"] / raw["reference"]
    assert row.goal is not None and row.goal.max == 1.5 and row.goal.min is None
    assert row.verdict == ("ok" if row.judged is not None and row.judged <= 1.5 else "MISS")
    cells = row.cells()
    assert cells[2].endswith("(plain sequential loop)") and cells[3] == f"{row.ratio:.2f}"
    assert "plain loop of the same reads + applies (40 applies)" in result.stdout

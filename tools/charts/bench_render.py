"""Benchmark (make bench): render and validate every chart x env, against plain helm on the same renders.

Run: .venv/bin/python tools/charts/bench_render.py [--json FILE] [--rounds N]

Figure: what the chart tests do, i.e. render every release x env with `render.render_many` (in parallel,
parsed), again for the harness's Kubernetes version, then validate every object against each Kubernetes
version of versions.yaml. Reference, in the same run: the same `helm template` commands run one after
another with their output discarded (helm alone, no parsing, no validation). Each round measures both,
alternating which goes first, after one untimed pass that warms the caches; the medians are reported.
Goal: figure / reference <= 2.5, i.e. parsing and validating may cost at most one and a half times what
helm needs to render, the parallel rendering included.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.charts import render
from tools.charts.validate import validate_object

ROUNDS = 3
GOAL_MAX_RATIO = 2.5
NAME = "charts render + validate"


def _kube() -> dict[str, Any]:
    kube: dict[str, Any] = render.versions()["kubernetes"]
    return kube


def commands() -> list[list[str]]:
    """The helm commands the figure runs: every release x env, for the default and the harness version."""
    jobs = render.all_jobs()
    kube_versions = (None, _kube()["harness"])
    return [render.helm_args(rel, env, kube_version=kv) for kv in kube_versions for rel, env in jobs]


def plain_helm() -> float:
    """The reference: the same helm commands one after another, output discarded."""
    started = time.perf_counter()
    for args in commands():
        subprocess.run(args, capture_output=True, check=True, timeout=120)
    return time.perf_counter() - started


def render_and_validate() -> dict[str, float]:
    """The figure, with its phases."""
    kube = _kube()
    start = time.perf_counter()
    rendered = render.render_many(render.all_jobs())
    rendered_at = time.perf_counter()
    render.render_many(render.all_jobs(), kube_version=kube["harness"])
    harness_at = time.perf_counter()
    objects = [obj for docs in rendered.values() for obj in docs]
    for version in kube["validate"]:
        for obj in objects:
            validate_object(obj, version)
    done = time.perf_counter()
    return {
        "render": rendered_at - start,
        "render_harness": harness_at - rendered_at,
        "validate": done - harness_at,
        "total": done - start,
        "objects": len(objects),
    }


def measure(rounds: int = ROUNDS) -> dict[str, Any]:
    plain_helm()  # untimed: chart files and the helm binary in the page cache for both sides
    figures: list[dict[str, float]] = []
    references: list[float] = []
    for i in range(rounds):
        if i % 2 == 0:
            references.append(plain_helm())
            figures.append(render_and_validate())
        else:
            figures.append(render_and_validate())
            references.append(plain_helm())
    return {"rounds": figures, "reference_s": references, "helm_commands": len(commands())}


def row(measured: dict[str, Any]) -> dict[str, Any]:
    """The row for `platformctl bench` (see platformctl.commands.bench)."""
    return {
        "name": NAME,
        "unit": "s",
        "figure": statistics.median(r["total"] for r in measured["rounds"]),
        "reference": statistics.median(measured["reference_s"]),
        "reference_is": "(plain helm, sequential)",
        "goal": {"max": GOAL_MAX_RATIO},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the row for `platformctl bench` to this file")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"rounds (default {ROUNDS})")
    args = parser.parse_args()
    kube = _kube()
    measured = measure(args.rounds)
    result = row(measured)
    rounds = measured["rounds"]
    print(
        f"cores: {os.cpu_count()}  releases x envs: {len(render.all_jobs())}  objects: "
        f"{int(rounds[0]['objects'])}  helm commands: {measured['helm_commands']}  rounds: {len(rounds)}"
    )

    phases = [
        ("render (helm template, parallel, parsed)", [r["render"] for r in rounds]),
        (f"render for the {kube['harness']} harness", [r["render_harness"] for r in rounds]),
        (f"validate x {len(kube['validate'])} Kubernetes versions", [r["validate"] for r in rounds]),
        ("total render + validate", [r["total"] for r in rounds]),
        ("reference: plain helm, sequential", measured["reference_s"]),
    ]
    for label, values in phases:
        print(f"{label + ':':42} {' '.join(f'{v:6.2f}' for v in values)} s")
    print(
        f"median ratio {result['figure'] / result['reference']:.2f} (goal <= {GOAL_MAX_RATIO:.2f}; "
        "verdicts are printed by `platformctl bench`)"
    )
    if args.json:
        args.json.write_text(json.dumps({"rows": [result], "figures": measured}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

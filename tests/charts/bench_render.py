"""Benchmark: wall time to render and validate every chart x env (make bench). Prints figures only.

Run: .venv/bin/python tests/charts/bench_render.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.charts import render
from tests.charts.validate import validate_object


def main() -> None:
    kube = render.versions()["kubernetes"]
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
    print(f"cores: {os.cpu_count()}  releases x envs: {len(rendered)}  objects: {len(objects)}")
    print(f"render (helm template, parallel):       {rendered_at - start:6.2f} s")
    print(f"render for {kube['harness']} harness:            {harness_at - rendered_at:6.2f} s")
    print(f"validate x {len(kube['validate'])} Kubernetes versions:       {done - harness_at:6.2f} s")
    print(f"total render + validate:                {done - start:6.2f} s (goal <= 10 s)")


if __name__ == "__main__":
    main()

"""`platformctl e2e`: the end-to-end run of tests/e2e on the cluster $KUBECONFIG points at."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Any

from platformctl.context import Context
from platformctl.errors import KubernetesError, SmokeFailed
from platformctl.paths import repo_root

ACTIONS = ("all", "up", "smoke", "resilience", "down")


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "e2e",
        help="end-to-end deployment, smoke tests and resilience checks on the cluster KUBECONFIG points at",
        description="Build the images into the cluster's docker, start a dev Vault, sync secrets, generate "
        "values, install every own release in plan order, run `platformctl smoke`, rotate the JWT key and "
        "the database password and delete pods under an in-cluster login load (0 failed requests), then "
        "remove everything (`all`). Made for the local k8s harness: see tests/e2e/README.md.",
    )
    parser.add_argument("action", nargs="?", default="all", choices=ACTIONS,
                        help="all (default): up, smoke, resilience, then always down")  # fmt: skip
    parser.add_argument("--no-build", action="store_true", help="use the images already in the docker")
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    if not os.environ.get("KUBECONFIG"):
        raise KubernetesError(
            "KUBECONFIG is not set: point it at the test cluster (harness: `source <home>/env`)"
        )
    argv = [sys.executable, "-m", "tests.e2e.deploy", args.action, "--env", ctx.env]
    if args.no_build:
        argv.append("--no-build")
    if ctx.dry_run:
        ctx.say("would run: " + " ".join(argv[1:]))
        return 0
    code = subprocess.run(argv, cwd=repo_root(), check=False).returncode
    if code:
        raise SmokeFailed(f"the end-to-end run failed (exit {code}); its output above names the step")
    return 0

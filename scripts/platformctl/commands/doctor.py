"""`platformctl doctor`: tools, Vault and Kubernetes context at a glance."""

from __future__ import annotations

import argparse
from typing import Any

from platformctl import doctor, versions
from platformctl.context import Context


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "doctor",
        help="check tools, Vault reachability and the kube context",
        description="Print each tool (found, version, required), whether Vault answers and the current kube "
        "context. Exits 3 when a required tool is missing or at the wrong version.",
    )
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    return doctor.run(ctx, versions.load())

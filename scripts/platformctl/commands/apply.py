"""`platformctl apply`: cluster -> secrets sync -> values -> platform -> smoke for ENV."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from platformctl import deploy, flow
from platformctl.context import Context


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "apply",
        help="cluster, secrets, values, releases and smoke tests for ENV",
        description="terraform apply stacks/cluster, sync Vault secrets into Kubernetes, generate values, "
        "terraform apply stacks/platform, run the smoke tests. prod needs --plan-dir (from "
        "`plan --out`) or --auto-approve. An interrupted run is resumed by running it again.",
    )
    parser.add_argument(
        "--plan-dir", type=Path, metavar="DIR", help="apply the plans saved by `plan --out DIR`"
    )
    parser.add_argument(
        "--auto-approve", action="store_true", help="apply without a saved plan (warns on prod)"
    )
    parser.add_argument("--kubeconfig", help="kubeconfig (default .state/<env>/kubeconfig, else $KUBECONFIG)")
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    if ctx.dry_run:
        ctx.say("dry run: showing the plan instead of applying")
        flow.plan(ctx, deploy.layout())
        return 0
    deploy.ensure_dev_vault(ctx)
    flow.apply(ctx, deploy.layout(), deploy.steps(ctx, args), args.plan_dir, args.auto_approve)
    return 0

"""`platformctl plan`: the Terraform plan of every stack for ENV; changes nothing."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from platformctl import deploy, flow
from platformctl.context import Context


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "plan",
        help="show what apply would change for ENV (changes nothing)",
        description="terraform init + plan for stacks/cluster and stacks/platform with "
        "terraform/envs/<env>/. --out DIR keeps the plans for `apply --plan-dir DIR` "
        "(required for prod).",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="save <stack>.tfplan files in DIR")
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    flow.plan(ctx, deploy.layout(), args.out)
    return 0

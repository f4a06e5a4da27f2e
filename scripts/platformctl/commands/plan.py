"""`platformctl plan`: generate the values, then the Terraform plan of every stack for ENV."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from platformctl.app import deploy, flow
from platformctl.config import site
from platformctl.context import Context


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "plan",
        help="show what apply would change for ENV (changes no infrastructure)",
        description="Generate values/generated/<env>/ (what apply would install), then terraform init + "
        "plan for stacks/cluster and stacks/platform with terraform/envs/<env>/. --out DIR keeps the plans "
        "and the digests of the values they were made with for `apply --plan-dir DIR` (required for "
        "prod); apply refuses them when the values changed since. Stacks a site profile replaces are "
        "not planned.",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="save <stack>.tfplan files in DIR")
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    profile = site.load()
    run = deploy.Deployment(ctx, profile)
    run.report_site()
    deploy.ensure_dev_vault(ctx)
    try:
        flow.plan(
            ctx,
            deploy.layout(),
            args.out,
            stacks=run.terraform_stacks(),
            variables=run.steps().variables,
            values=run.values_digests,
        )
        if profile.installer_name == "helm":
            run.preview_releases()
    finally:
        deploy.report_dev_vault(ctx)
    return 0

"""`platformctl apply`: cluster -> namespaces -> images -> secrets -> values -> releases -> smoke for ENV."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from platformctl.app import deploy, flow
from platformctl.commands import arguments
from platformctl.config import site
from platformctl.context import Context


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "apply",
        help="cluster, namespaces, images, secrets, values, releases and smoke tests for ENV",
        description="terraform apply stacks/cluster (or use the site's existing cluster), create the "
        "namespaces, build and deliver the service images, sync Vault secrets into Kubernetes, generate "
        "values, install the releases (terraform apply stacks/platform, or pyhelm3 when the site profile "
        "says so), run the smoke tests. prod needs --plan-dir (from `plan --out`) or --auto-approve. "
        "An interrupted run is resumed by running it again. Site profile: PLATFORMCTL_SITE "
        "(docs/configuration.md).",
    )
    parser.add_argument(
        "--plan-dir", type=Path, metavar="DIR", help="apply the plans saved by `plan --out DIR`"
    )
    parser.add_argument(
        "--auto-approve", action="store_true", help="apply without a saved plan (warns on prod)"
    )
    parser.add_argument("--no-build", action="store_true", help="do not build or deliver the service images")
    arguments.add_kubeconfig(parser)
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    profile = site.load()
    run = deploy.Deployment(ctx, profile, build=not args.no_build, kubeconfig=args.kubeconfig)
    run.report_site()
    if ctx.dry_run:
        ctx.say("dry run: showing the plan instead of applying")
        flow.plan(ctx, deploy.layout(), stacks=run.terraform_stacks(), variables=run.steps().variables)
        return 0
    flow.approved(ctx, args.plan_dir, args.auto_approve, "apply")
    deploy.ensure_dev_vault(ctx)
    check = (lambda: run.check_saved_values(args.plan_dir)) if args.plan_dir else None
    try:
        flow.apply(ctx, deploy.layout(), run.steps(), args.plan_dir, args.auto_approve, check_saved=check)
    finally:
        deploy.report_dev_vault(ctx)
    return 0

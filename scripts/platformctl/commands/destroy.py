"""`platformctl destroy`: the platform stack, then the cluster stack, for ENV."""

from __future__ import annotations

import argparse
from typing import Any

from platformctl import deploy, flow
from platformctl.context import Context


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "destroy",
        help="tear down ENV's releases and cluster",
        description="terraform destroy stacks/platform, then stacks/cluster. prod needs --auto-approve.",
    )
    parser.add_argument("--auto-approve", action="store_true", help="required for prod")
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    if ctx.dry_run:
        ctx.say("dry run: would destroy stacks/platform, then stacks/cluster")
        return 0
    flow.destroy(ctx, deploy.layout(), args.auto_approve)
    return 0

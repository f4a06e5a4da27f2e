"""`platformctl destroy`: the releases, the namespaces, then the cluster of ENV; stops the dev Vault."""

from __future__ import annotations

import argparse
from typing import Any

from platformctl.app import deploy, flow
from platformctl.config import site
from platformctl.context import Context


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "destroy",
        help="tear down ENV's releases, namespaces and cluster",
        description="terraform destroy stacks/platform (or uninstall with pyhelm3 when the site profile "
        "installs that way), delete the namespaces platformctl created, terraform destroy stacks/cluster "
        "(an existing cluster of the site is left as it is), and for dev stop the dev Vault. prod needs "
        "--auto-approve.",
    )
    parser.add_argument("--auto-approve", action="store_true", help="required for prod")
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    run = deploy.Deployment(ctx, site.load())
    run.report_site()
    if ctx.dry_run:
        teardown = run.teardown()
        steps = [
            "uninstall the releases (pyhelm3)" if teardown.releases else "terraform destroy stacks/platform",
            "delete the namespaces platformctl created",
            "leave the existing cluster" if teardown.cluster else "terraform destroy stacks/cluster",
        ]
        if ctx.env == "dev":
            steps.append("stop the dev Vault")
        ctx.say("dry run: would " + ", then ".join(steps))
        return 0
    flow.destroy(ctx, deploy.layout(), run.teardown(), args.auto_approve)
    return 0

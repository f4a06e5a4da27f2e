"""Arguments several verbs share, written once: their flags, help texts and how they are read."""

from __future__ import annotations

import argparse
from pathlib import Path

from platformctl.app import release_plan
from platformctl.config.release import Release
from platformctl.context import Context


def add_kubeconfig(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig (default .state/<env>/kubeconfig, else $KUBECONFIG)")


def add_releases(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--releases",
        type=Path,
        metavar="FILE",
        help="release list as JSON (`terraform output -json releases`); "
        "default: apply terraform/stacks/release-plan for ENV",
    )


def planned(args: argparse.Namespace, ctx: Context) -> list[Release]:
    """The release plan: the --releases file when given, else terraform/stacks/release-plan for ENV."""
    if args.releases:
        return release_plan.from_file(args.releases)
    with ctx.step(f"release plan ({ctx.env})"):
        return release_plan.from_terraform(ctx.env)

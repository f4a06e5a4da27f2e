"""`platformctl releases {status,history,rollback}`: Helm releases of ENV through pyhelm3."""

from __future__ import annotations

import argparse
from typing import Any

from platformctl.adapters import kube, releases
from platformctl.commands import arguments
from platformctl.context import Context, render_table
from platformctl.errors import UsageError


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "releases",
        help="Helm releases of ENV: status table, history of one, rollback of one",
        description="status: current revision of every planned release of ENV; history NAME: its "
        "revisions; rollback NAME --revision N: roll back (with --dry-run: helm's dry run, nothing "
        "changes). Reads only release metadata, never values.",
    )
    parser.add_argument("action", choices=["status", "history", "rollback"])
    parser.add_argument("name", nargs="?", metavar="RELEASE", help="release name (history, rollback)")
    parser.add_argument("--revision", type=int, metavar="N", help="rollback: the revision to return to")
    parser.add_argument("--max", type=int, default=20, metavar="N", help="history: newest N revisions (20)")
    arguments.add_releases(parser)
    arguments.add_kubeconfig(parser)
    parser.set_defaults(handler=handle)
    return parser


def planned(args: argparse.Namespace, ctx: Context) -> list[tuple[str, str]]:
    return [(r.name, r.namespace) for r in arguments.planned(args, ctx)]


def validate(args: argparse.Namespace) -> None:
    """Argument combinations argparse cannot express, each as one line."""
    if args.action in ("history", "rollback") and not args.name:
        raise UsageError(f"`releases {args.action}` needs a RELEASE name")
    if args.action == "status" and args.name:
        raise UsageError("`releases status` shows every planned release; drop the RELEASE name")
    if args.action == "rollback" and args.revision is None:
        raise UsageError("`releases rollback` needs --revision N (see `releases history RELEASE`)")
    if args.action != "rollback" and args.revision is not None:
        raise UsageError("--revision only applies to `releases rollback`")
    if args.max < 1:
        raise UsageError("--max must be at least 1")


def namespace_of(name: str, plan: list[tuple[str, str]]) -> str:
    for release, namespace in plan:
        if release == name:
            return namespace
    raise UsageError(
        f"release '{name}' is not in the plan of this env (choose {', '.join(n for n, _ in plan)})"
    )


def handle(args: argparse.Namespace, ctx: Context, helm: Any = None) -> int:
    validate(args)
    plan = planned(args, ctx)
    if helm is None:
        kubeconfig = args.kubeconfig or kube.kubeconfig(ctx.env)
        kube.api_client(ctx.env, kubeconfig)  # a missing or foreign kube context: one line, before helm runs
        helm = releases.client(kubeconfig)
    if args.action == "status":
        rows = releases.status(helm, plan)
    elif args.action == "history":
        rows = releases.history(helm, args.name, namespace_of(args.name, plan), args.max)
    else:
        namespace = namespace_of(args.name, plan)
        with ctx.step(f"rollback {args.name} to revision {args.revision}"):
            row = releases.rollback(helm, args.name, namespace, args.revision, ctx.dry_run)
        verb = "would roll back" if ctx.dry_run else "rolled back"
        ctx.say(f"{verb} {args.name} ({namespace}) to revision {args.revision}")
        rows = [row]
    ctx.say(render_table(releases.HEADERS, [row.cells() for row in rows]))
    return 0

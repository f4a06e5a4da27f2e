"""`platformctl backup run|list|restore`: backups of the users database (docs/adr/0008-*)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from platformctl.adapters import kube
from platformctl.app import backup
from platformctl.context import Context, render_table

HELP = "backups of the users database: run one now, list them, restore one (Jobs from the backup CronJob)"


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "backup",
        help=HELP,
        description="Each action runs a Job made from the CronJob data/postgresql-backup (charts/postgresql):"
        " the same image, Secrets and limits as the scheduled backup. run: a backup now (pg_dump custom "
        "format, encrypted in the pod, uploaded with the backup consumer's own S3 key, then the retention). "
        "list: the complete backups, newest first, and the last good one. restore: the newest backup, or "
        "--name NAME, into the running database (refused when it holds tables, unless --force: a safety "
        "backup is taken first, then every object is replaced in one transaction) or --into fresh (a new "
        "database, --target-db NAME, default users_restore_<time>). --dry-run: run only shows the Job; "
        "restore runs it read-only and says what it would replace. Stop the writers first (runbook: "
        "docs/runbooks/restore-users-database.md).",
    )
    parser.add_argument("action", choices=["run", "list", "restore"], help="what to do")
    parser.add_argument("--name", metavar="NAME", help="restore: the backup to restore (default: the newest)")
    parser.add_argument(
        "--into",
        choices=["running", "fresh"],
        default="running",
        help="restore: into the running database (default) or a fresh one",
    )
    parser.add_argument("--target-db", metavar="DB", help="restore --into fresh: the new database's name")
    parser.add_argument(
        "--force",
        action="store_true",
        help="restore: replace a database that holds tables (after a safety backup)",
    )
    parser.add_argument(
        "--timeout", type=int, default=1800, metavar="SECONDS", help="how long to wait for the Job (1800)"
    )
    parser.add_argument("--kubeconfig", help="kubeconfig (default .state/<env>/kubeconfig, else $KUBECONFIG)")
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    runner = backup.runner_args(
        args.action,
        args.name,
        args.into,
        args.target_db,
        args.force,
        ctx.dry_run and args.action == "restore",
    )
    api = kube.api_client(ctx.env, args.kubeconfig)
    cron = backup.cronjob(api)
    manifest = backup.job_manifest(cron, args.action, runner)
    if ctx.dry_run and args.action == "run":
        container = manifest["spec"]["template"]["spec"]["containers"][0]
        ctx.say(
            f"would create Job {backup.NAMESPACE}/{manifest['metadata']['name']} from CronJob "
            f"{cron['metadata']['name']}: image {container['image']}, args {' '.join(runner)}"
        )
        return 0
    with ctx.step(f"backup {args.action} ({ctx.env})"):
        outcome = backup.run_job(api, manifest, args.timeout, ctx.progress)
    result = backup.checked(outcome)
    now = datetime.now(UTC)
    if args.action == "list":
        ctx.say(render_table(backup.LIST_HEADERS, backup.list_rows(result, now)))
        lines = backup.list_summary(result, cron, now)
    elif args.action == "run":
        lines = backup.run_line(result)
    else:
        lines = backup.restore_lines(result)
    for line in lines:
        ctx.say(line)
    return 0

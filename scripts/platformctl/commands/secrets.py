"""`platformctl secrets sync`: Vault KV v2 -> Kubernetes Secrets (server-side apply)."""

from __future__ import annotations

import argparse
from typing import Any

from platformctl.adapters import kube, vault
from platformctl.app import secrets_sync
from platformctl.commands import arguments
from platformctl.config import secret_map
from platformctl.context import Context, render_table
from platformctl.errors import UsageError


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "secrets",
        help="sync Vault secrets into Kubernetes Secrets",
        description="Read the Vault paths of values/secrets-map.yaml for ENV and server-side apply the "
        "Kubernetes Secrets (field manager platformctl). Prints secret, namespace, keys, Vault "
        "version and whether it changed; never a value.",
    )
    parser.add_argument("action", choices=["sync"], help="the only action: sync")
    parser.add_argument(
        "--only", action="append", metavar="SECRET", help="sync only this Secret (repeatable)"
    )
    arguments.add_kubeconfig(parser)
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    smap = secret_map.load()
    unknown = sorted(set(args.only or []) - set(smap.secrets))
    if unknown:
        raise UsageError(f"unknown Secret '{unknown[0]}' (choose from {', '.join(sorted(smap.secrets))})")
    with ctx.step(f"secrets sync ({ctx.env})"):
        client = vault.connect(ctx.env, smap.mount)
        store = kube.KubeSecrets(kube.api_client(ctx.env, args.kubeconfig))
        results = secrets_sync.sync(client, store, smap, ctx.dry_run, args.only)
    ctx.say(
        render_table(
            ["secret", "namespace", "keys", "vault version", "changed"], secrets_sync.table_rows(results)
        )
    )
    return 0

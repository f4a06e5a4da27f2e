"""Wiring of the real steps behind `plan` / `apply` / `destroy` (flow.py holds the order and the rules)."""

from __future__ import annotations

import argparse
import os

from platformctl import flow, kube, release_plan, secret_map, secrets_sync, smoke_hook, vault, vault_dev
from platformctl.commands import values as values_cmd
from platformctl.context import Context, render_table
from platformctl.paths import repo_root, state_dir


def layout() -> flow.Layout:
    return flow.Layout(terraform=repo_root() / "terraform", state=state_dir())


def ensure_dev_vault(ctx: Context) -> None:
    """ENV=dev without VAULT_ADDR uses (and if needed starts) the local dev Vault."""
    if ctx.env == "dev" and not os.environ.get("VAULT_ADDR"):
        data, seeded = vault_dev.up(vault.state_file(), secret_map.load())
        ctx.progress(f"dev Vault at {data['address']}; newly seeded: {', '.join(seeded) or 'none'}")


def _sync(ctx: Context, kubeconfig: str | None) -> None:
    smap = secret_map.load()
    client = vault.connect(ctx.env, smap.mount)
    store = kube.KubeSecrets(kube.api_client(ctx.env, kubeconfig))
    results = secrets_sync.sync(client, store, smap, ctx.dry_run)
    ctx.say(
        render_table(
            ["secret", "namespace", "keys", "vault version", "changed"], secrets_sync.table_rows(results)
        )
    )


def _values(ctx: Context) -> None:
    values_cmd.generate(ctx, release_plan.from_terraform(ctx.env), repo_root())


def _smoke(ctx: Context) -> None:
    smoke_hook.run(ctx.env)


def steps(ctx: Context, args: argparse.Namespace) -> flow.Steps:
    return flow.Steps(
        secrets_sync=lambda: _sync(ctx, args.kubeconfig),
        values=lambda: _values(ctx),
        smoke=lambda: _smoke(ctx),
    )

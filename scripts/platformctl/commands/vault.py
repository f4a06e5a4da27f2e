"""`platformctl vault dev [--stop]`: the local dev Vault with seeded secrets."""

from __future__ import annotations

import argparse
from typing import Any

from platformctl.adapters.vault import state_file
from platformctl.app import vault_dev
from platformctl.config import secret_map
from platformctl.context import Context
from platformctl.errors import UsageError


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "vault",
        help="local dev Vault: `vault dev` starts and seeds it, `vault dev --stop` stops it",
        description="Start an OpenBao dev server (Vault API) on a free loopback port, enable KV v2 and seed "
        "every secret of values/secrets-map.yaml for dev with random values. Address and token "
        "go to .state/vault-dev.json (mode 0600); VAULT_ADDR/VAULT_TOKEN override it.",
    )
    parser.add_argument("action", choices=["dev"], help="the only action: dev")
    parser.add_argument("--stop", action="store_true", help="stop the dev server started earlier (by PID)")
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    state = state_file()
    if args.stop:
        ctx.say("dev Vault stopped" if vault_dev.stop(state) else "no dev Vault was running")
        return 0
    if ctx.env != "dev":
        raise UsageError(
            f"`vault dev` only serves ENV=dev, not {ctx.env}; point VAULT_ADDR at {ctx.env}'s Vault instead"
        )
    smap = secret_map.load()
    if ctx.dry_run:
        running = vault_dev.running(state)
        start = f"reuse the dev Vault at {running['address']}" if running else "start a dev Vault"
        ctx.say(f"would {start} and seed what is missing of: {', '.join(sorted(smap.vault))}")
        return 0
    with ctx.step("dev Vault: start and seed"):
        data, seeded = vault_dev.up(state, smap)
    ctx.say(f"dev Vault at {data['address']} (pid {data['pid']})")
    ctx.say(f"seeded: {', '.join(seeded) or 'nothing new'}")
    ctx.say(f"address and token: {state} (mode 0600); platformctl reads it when VAULT_ADDR is unset")
    ctx.say("stop it with `platformctl vault dev --stop`")
    return 0

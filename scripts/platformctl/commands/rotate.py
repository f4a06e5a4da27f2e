"""`platformctl rotate --secret NAME`: rotate one secret with rollback on failure."""

from __future__ import annotations

import argparse
import os
from typing import Any

from platformctl import kube, rotate, secret_map, vault
from platformctl.context import Context
from platformctl.rollout import Roller


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "rotate",
        help="rotate one secret: new KV version, credential, Secrets; rollback on failure",
        description="Names come from `rotations:` in values/secrets-map.yaml. A PostgreSQL role needs an "
        "admin connection in PLATFORMCTL_PG_DSN (environment, never a flag).",
    )
    parser.add_argument("--secret", required=True, metavar="NAME", help="rotation name from the secret map")
    parser.add_argument(
        "--rollout-timeout",
        type=float,
        default=300,
        metavar="SECONDS",
        help="how long to wait for the consumers' rollout (default 300)",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig (default .state/<env>/kubeconfig, else $KUBECONFIG)")
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    smap = secret_map.load()
    spec = rotate.spec_for(smap, args.secret)
    client = vault.connect(ctx.env, smap.mount)
    if ctx.dry_run:
        steps = rotate.steps_for(
            spec, smap, client, _NoStore(), "dry-run" if spec.role else None, Roller(None)
        )  # only described, never run
        plan = rotate.Plan(args.secret, spec, steps)
        for line in rotate.describe(plan, client):
            ctx.say(line)
        return 0
    api = kube.api_client(ctx.env, args.kubeconfig)
    steps = rotate.steps_for(
        spec,
        smap,
        client,
        kube.KubeSecrets(api),
        os.environ.get("PLATFORMCTL_PG_DSN"),
        Roller(api, timeout=args.rollout_timeout),
    )
    with ctx.step(f"rotate {args.secret} ({ctx.env})"):
        before, after = rotate.run(rotate.Plan(args.secret, spec, steps), client, ctx.progress)
    ctx.say(
        f"rotated {args.secret}: KV version {before} -> {after}; consumers rolled out. Run "
        "`platformctl values` so their secretChecksum matches on the next apply"
    )
    return 0


class _NoStore:
    """Dry run: steps are only described, never run."""

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    def apply(self, manifest: dict[str, Any]) -> None:
        raise AssertionError("dry run must not apply")

"""`platformctl rotate --secret NAME`: rotate one secret with rollback on failure."""

from __future__ import annotations

import argparse
import os
from typing import Any

from platformctl.adapters import kube, rabbitmq, s3admin, vault
from platformctl.app import deploy, rotate, s3keys
from platformctl.commands import arguments
from platformctl.config import secret_map, site
from platformctl.context import Context


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "rotate",
        help="rotate one secret: new KV version, credential, Secrets; rollback on failure",
        description="Names come from `rotations:` in values/secrets-map.yaml. A PostgreSQL role needs an "
        "admin connection in PLATFORMCTL_PG_DSN (environment, never a flag). A RabbitMQ user needs the "
        "management API in PLATFORMCTL_RABBITMQ_API (e.g. http://127.0.0.1:15672 through a port-forward); "
        "optional: PLATFORMCTL_RABBITMQ_AMQP (host:port for the login check), PLATFORMCTL_RABBITMQ_VHOST, "
        "PLATFORMCTL_RABBITMQ_ADMIN_USER/_PASSWORD (else the user changes its own password). Consumers "
        "that must restart roll the way `apply` rolls them: new values, then an upgrade of their releases "
        "(waited for with the plan's timeouts). Then the smoke subset of each consumer runs (`platformctl "
        "smoke --only NAME`). An S3 access "
        "key needs PLATFORMCTL_S3_ENDPOINT and PLATFORMCTL_S3_ADMIN_API=minio|iam "
        "(admin credentials: kv/<env>/minio).",
    )
    parser.add_argument("--secret", required=True, metavar="NAME", help="rotation name from the secret map")
    arguments.add_kubeconfig(parser)
    parser.set_defaults(handler=handle)
    return parser


def _rabbit(spec: Any, dry_run: bool = False) -> rabbitmq.Settings | None:
    if spec.kind != "rabbitmq-user":
        return None
    if dry_run and not os.environ.get("PLATFORMCTL_RABBITMQ_API"):  # only described: no API needed
        return rabbitmq.Settings("$PLATFORMCTL_RABBITMQ_API", "-", 0)
    return rabbitmq.Settings.from_env(os.environ)


def _issuer(spec: Any, client: vault.Vault, dry_run: bool) -> rotate.Issuer | None:
    if spec.kind != "s3-access-key":
        return None
    environ = dict(os.environ)
    if dry_run:
        environ.setdefault("PLATFORMCTL_S3_ENDPOINT", "http://s3-endpoint.invalid")  # only described
        placeholder = {"root-user": "dry-run", "root-password": "dry-run"}
        return s3keys.issuer_for(
            spec, s3admin.from_env(environ, placeholder), environ.get("PLATFORMCTL_S3_REGION", "us-east-1")
        )
    creds = client.read("minio").data
    return s3keys.issuer_for(
        spec, s3admin.from_env(environ, creds), environ.get("PLATFORMCTL_S3_REGION", "us-east-1")
    )


def handle(args: argparse.Namespace, ctx: Context) -> int:
    smap = secret_map.load()
    spec = rotate.spec_for(smap, args.secret)
    client = vault.connect(ctx.env, smap.mount)
    checks = rotate.checks_for(spec, smap, ctx.env)
    if ctx.dry_run:
        steps = rotate.steps_for(
            spec,
            smap,
            client,
            _NoStore(),
            "dry-run" if spec.role else None,
            _DescribedRoller(),
            _rabbit(spec, True),
        )  # only described, never run
        plan = rotate.Plan(args.secret, spec, steps, checks, _issuer(spec, client, True))
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
        deploy.ReleaseRoller(deploy.Deployment(ctx, site.load(), kubeconfig=args.kubeconfig)),
        _rabbit(spec),
    )
    with ctx.step(f"rotate {args.secret} ({ctx.env})"):
        plan = rotate.Plan(args.secret, spec, steps, checks, _issuer(spec, client, False))
        before, after = rotate.run(plan, client, ctx.progress)
    ctx.say(f"rotated {args.secret}: KV version {before} -> {after}; consumers rolled out, values up to date")
    return 0


class _DescribedRoller:
    """Dry run: the roll steps are only described, never run."""

    def roll(self, namespace: str, releases: list[str]) -> list[str]:
        raise AssertionError("dry run must not roll")


class _NoStore:
    """Dry run: steps are only described, never run."""

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    def apply(self, manifest: dict[str, Any]) -> None:
        raise AssertionError("dry run must not apply")

"""`platformctl storage ensure`: buckets, versioning and consumer policies on the S3 endpoint."""

from __future__ import annotations

import argparse
import os
from typing import Any

from platformctl import secret_map, storage, vault
from platformctl.context import Context, render_table
from platformctl.errors import UsageError


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "storage",
        help="create the platform's buckets (versioned, least-privilege policy); idempotent",
        description="With the MinIO root credentials from Vault (kv/<env>/minio), create the buckets "
        f"({', '.join(sorted(storage.BUCKETS))}), enable versioning and apply a policy per "
        "consumer where the S3 server supports it.",
    )
    parser.add_argument("action", choices=["ensure"], help="the only action: ensure")
    parser.add_argument(
        "--endpoint", default=os.environ.get("S3_ENDPOINT"), help="S3 endpoint URL (default $S3_ENDPOINT)"
    )
    parser.add_argument("--region", default=os.environ.get("S3_REGION", "us-east-1"))
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    if not args.endpoint:
        raise UsageError("no S3 endpoint: pass --endpoint URL or set S3_ENDPOINT")
    smap = secret_map.load()
    creds = vault.connect(ctx.env, smap.mount).read("minio").data
    s3 = storage.client(
        args.endpoint, creds.get("root-user", ""), creds.get("root-password", ""), args.region
    )
    with ctx.step(f"storage ensure ({ctx.env})"):
        results = storage.ensure(s3, dry_run=ctx.dry_run)
    rows = [[r.bucket, "yes" if r.created else "no", r.versioning, r.policy] for r in results]
    ctx.say(render_table(["bucket", "created", "versioning", "policy"], rows))
    return 0

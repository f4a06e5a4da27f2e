"""`platformctl storage ensure`: buckets, versioning and consumer policies on the S3 endpoint."""

from __future__ import annotations

import argparse
import os
from typing import Any

from platformctl.adapters import s3admin, storage, vault
from platformctl.app import s3keys
from platformctl.config import secret_map
from platformctl.context import Context, render_table
from platformctl.errors import UsageError


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "storage",
        help="create the platform's buckets (versioned, least-privilege policy); idempotent",
        description="With the MinIO root credentials from Vault (kv/<env>/minio), create the buckets "
        f"({', '.join(sorted(storage.BUCKETS))}), enable versioning and apply a policy per "
        "consumer where the S3 server supports it. Then, through the admin API (--admin-api), create a "
        "least-privilege user per consumer that has an s3-access-key rotation in the secret map and, "
        "when Vault does not hold one of its keys yet, issue one and write it to Vault.",
    )
    parser.add_argument("action", choices=["ensure"], help="the only action: ensure")
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("PLATFORMCTL_S3_ENDPOINT"),
        help="S3 endpoint URL (default $PLATFORMCTL_S3_ENDPOINT)",
    )
    parser.add_argument("--region", default=os.environ.get("PLATFORMCTL_S3_REGION", "us-east-1"))
    parser.add_argument(
        "--admin-api",
        choices=[*s3admin.BACKENDS, "none"],
        default=os.environ.get("PLATFORMCTL_S3_ADMIN_API", s3admin.DEFAULT_BACKEND),
        help="user/key admin API: minio (MinIO admin, the cluster's store), iam (AWS IAM API, e.g. "
        f"SeaweedFS) or none (skip consumer users); default $PLATFORMCTL_S3_ADMIN_API, else "
        f"{s3admin.DEFAULT_BACKEND} (as for rotation)",
    )
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    if not args.endpoint:
        raise UsageError("no S3 endpoint: pass --endpoint URL or set PLATFORMCTL_S3_ENDPOINT")
    smap = secret_map.load()
    client = vault.connect(ctx.env, smap.mount)
    creds = client.read("minio").data
    s3 = storage.client(
        args.endpoint, creds.get("root-user", ""), creds.get("root-password", ""), args.region
    )
    with ctx.step(f"storage ensure ({ctx.env})"):
        results = storage.ensure(s3, dry_run=ctx.dry_run)
    rows = [[r.bucket, "yes" if r.created else "no", r.versioning, r.policy] for r in results]
    ctx.say(render_table(["bucket", "created", "versioning", "policy"], rows))
    if args.admin_api == "none":
        ctx.say(
            "consumer users skipped: no admin API chosen (--admin-api minio|iam or PLATFORMCTL_S3_ADMIN_API)"
        )
        return 0
    admin = s3admin.connect(
        args.admin_api, args.endpoint, creds.get("root-user", ""), creds.get("root-password", ""), args.region
    )
    with ctx.step(f"storage users ({args.admin_api})"):
        users = s3keys.ensure_users(admin, client, smap.rotations, args.region, dry_run=ctx.dry_run)
    ctx.say(render_table(["user", "bucket/prefix", "result"], users))
    return 0

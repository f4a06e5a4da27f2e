"""`storage ensure`: the platform's buckets on any S3-compatible store (MinIO in cluster), idempotently."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from platformctl.errors import ConfigError

# bucket -> (consumer identity, object prefix it may touch); docs/architecture.md, "Messaging" and
# "Backups".
BUCKETS: dict[str, tuple[str, str]] = {
    "notifications": ("notifications", "users/"),
    "backups": ("backups", "postgresql/"),
}
# Consumers that also delete objects under their prefix: the backup job applies its own retention
# (docs/adr/0008-*). Every other consumer may only read and write.
PRUNING_CONSUMERS = frozenset({"backups"})
_UNSUPPORTED = {"NotImplemented", "NotImplementedError", "MalformedPolicy", "UnsupportedOperation"}


@dataclass(frozen=True)
class BucketResult:
    bucket: str
    created: bool
    versioning: str
    policy: str


def client(endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1") -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        config=Config(
            s3={"addressing_style": "path"}, retries={"max_attempts": 3}, connect_timeout=5, read_timeout=30
        ),
    )


def object_actions(consumer: str) -> list[str]:
    """What a consumer may do to the objects under its prefix."""
    delete = ["s3:DeleteObject"] if consumer in PRUNING_CONSUMERS else []
    return ["s3:GetObject", "s3:PutObject", *delete]


def consumer_policy(
    bucket: str, consumer: str, prefix: str, principal: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Least privilege for one consumer, as one document for both places it is enforced: list its bucket,
    read/write (a pruning consumer also delete) objects under its prefix, nothing else. With `principal`
    it is a bucket policy (listing limited to the prefix by condition); without, the consumer user's own
    policy (IAM or MinIO admin API), whose listing is of the bucket."""
    listing: dict[str, Any] = {
        "Sid": "list",
        "Effect": "Allow",
        "Action": ["s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}"],
    }
    objects: dict[str, Any] = {
        "Sid": "objects",
        "Effect": "Allow",
        "Action": object_actions(consumer),
        "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*"],
    }
    if principal is not None:
        listing |= {"Principal": principal, "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}}}
        objects |= {"Principal": principal}
    return {"Version": "2012-10-17", "Statement": [listing, objects]}


def policy(bucket: str, consumer: str, prefix: str) -> str:
    """The bucket policy of a consumer's bucket (consumer_policy with the consumer user as principal)."""
    principal = {"AWS": [f"arn:aws:iam:::user/{consumer}"]}
    return json.dumps(consumer_policy(bucket, consumer, prefix, principal), sort_keys=True)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _create(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except ClientError as exc:
        if _code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
            raise
    s3.create_bucket(Bucket=bucket)
    return True


def _versioning(s3: Any, bucket: str) -> str:
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return str(s3.get_bucket_versioning(Bucket=bucket).get("Status", "unsupported"))


def _policy(s3: Any, bucket: str, consumer: str, prefix: str) -> str:
    try:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, consumer, prefix))
    except ClientError as exc:
        if _code(exc) in _UNSUPPORTED:
            return "unsupported by this S3 server"
        raise
    return f"{consumer} on {prefix or '*'}"


def ensure(
    s3: Any, buckets: dict[str, tuple[str, str]] | None = None, dry_run: bool = False
) -> list[BucketResult]:
    results = []
    for bucket, (consumer, prefix) in sorted((buckets or BUCKETS).items()):
        try:
            if dry_run:
                results.append(BucketResult(bucket, False, "(dry run)", "(dry run)"))
                continue
            created = _create(s3, bucket)
            versioning = _versioning(s3, bucket)
            results.append(BucketResult(bucket, created, versioning, _policy(s3, bucket, consumer, prefix)))
        except ClientError as exc:
            raise ConfigError(
                f"S3 call for bucket {bucket} failed: {_code(exc) or 'error'}; check the "
                "endpoint and the admin credentials in Vault (kv/<env>/minio)"
            ) from None
        except BotoCoreError as exc:
            raise ConfigError(
                f"S3 endpoint unreachable or misconfigured ({type(exc).__name__}); check --endpoint"
            ) from None
    return results

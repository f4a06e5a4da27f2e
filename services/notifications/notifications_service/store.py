"""Notification records in S3 (`s3://<bucket>/users/<user_id>/<event_id>.json`); any S3-compatible store."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from notifications_service.settings import Settings

MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
PRECONDITION_FAILED = {"412", "PreconditionFailed", "ConditionalRequestConflict"}


def record_key(user_id: str, event_id: str) -> str:
    return f"users/{user_id}/{event_id}.json"


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in MISSING


class NotificationStore:
    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.s3_bucket
        self._client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint,
            region_name=settings.s3_region,
            aws_access_key_id=settings.secret("s3_access_key"),
            aws_secret_access_key=settings.secret("s3_secret_key"),
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=3,
                read_timeout=10,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )

    def ensure_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if not _missing(exc):
                raise
            self._client.create_bucket(Bucket=self.bucket)

    def ping(self) -> None:
        self._client.head_bucket(Bucket=self.bucket)

    def write_once(self, record: dict[str, Any]) -> bool:
        """Write the record unless it exists; False when an earlier delivery already wrote it.

        A conditional put (If-None-Match: *) makes this atomic, even when two replicas handle
        the same redelivered event at the same moment.
        """
        key = record_key(str(record["user_id"]), str(record["event_id"]))
        body = json.dumps(record, sort_keys=True).encode()
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", IfNoneMatch="*"
            )
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in PRECONDITION_FAILED:
                return False
            raise
        return True

    def list_for_user(self, user_id: str, limit: int) -> list[dict[str, Any]]:
        listing = self._client.list_objects_v2(Bucket=self.bucket, Prefix=f"users/{user_id}/", MaxKeys=limit)
        records = []
        for item in listing.get("Contents", []):
            body = self._client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
            records.append(json.loads(body))
        return sorted(records, key=lambda record: str(record.get("occurred_at", "")))

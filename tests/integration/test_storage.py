"""`storage ensure` with boto3 against a real SeaweedFS S3 server."""

from __future__ import annotations

import secrets

import pytest
from platformctl.adapters import storage
from platformctl.errors import ConfigError

from tests.fixtures.servers import free_port


@pytest.fixture
def s3(s3_server):
    return storage.client(s3_server.endpoint, s3_server.access_key, s3_server.secret_key, s3_server.region)


def test_ensure_creates_versioned_buckets_idempotently(s3):
    suffix = secrets.token_hex(3)
    buckets = {f"notifications-{suffix}": ("notifications", "users/"), f"backups-{suffix}": ("backups", "")}
    first = storage.ensure(s3, buckets)
    assert [r.created for r in first] == [True, True]
    assert all(r.versioning == "Enabled" for r in first)
    second = storage.ensure(s3, buckets)
    assert [r.created for r in second] == [False, False]
    assert [r.policy for r in second] == [r.policy for r in first]
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert set(buckets) <= names
    s3.put_object(Bucket=f"notifications-{suffix}", Key="users/1/a.json", Body=b"{}")
    s3.put_object(Bucket=f"notifications-{suffix}", Key="users/1/a.json", Body=b"{ }")
    versions = s3.list_object_versions(Bucket=f"notifications-{suffix}")["Versions"]
    assert len(versions) == 2


def test_policy_is_least_privilege():
    doc = storage.policy("notifications", "notifications", "users/")
    assert '"s3:*"' not in doc and "arn:aws:s3:::notifications/users/*" in doc


def test_dry_run_creates_nothing(s3):
    bucket = f"dry-{secrets.token_hex(3)}"
    storage.ensure(s3, {bucket: ("x", "")}, dry_run=True)
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_wrong_credentials_and_unreachable_endpoint(s3_server):
    bad = storage.client(s3_server.endpoint, s3_server.access_key, "wrong-secret-sentinel")
    with pytest.raises(ConfigError, match=r"S3 call for bucket \S+ failed") as caught:
        storage.ensure(bad, {"notifications": ("n", "")})
    assert "sentinel" not in str(caught.value)
    gone = storage.client(f"http://127.0.0.1:{free_port()}", "a", "b")
    with pytest.raises(ConfigError, match="S3 endpoint unreachable"):
        storage.ensure(gone, {"notifications": ("n", "")})

"""Per-consumer S3 identities and their access keys, behind one small interface with two back ends:

- `IamAdmin`: the AWS IAM API (boto3 `iam`), as AWS and SeaweedFS (`weed s3` with its embedded IAM API,
  `-s3.iam.readOnly=false`) serve it; tested against a real SeaweedFS.
- `MinioAdmin`: MinIO's admin API (minio-py). NOT tested here: no MinIO server can be had on the test
  machines (the project stopped publishing). A consumer is a MinIO service account of the admin,
  limited by an inline least-privilege policy (minio-py 7.2 cannot create one for another user).

Settings (environment): PLATFORMCTL_S3_ADMIN_API=minio|iam (default minio, the cluster's store),
PLATFORMCTL_S3_ENDPOINT, PLATFORMCTL_S3_REGION; the admin credentials are kv/<env>/minio
`root-user`/`root-password`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from platformctl.errors import ConfigError

BACKENDS = ("minio", "iam")
# The admin API when PLATFORMCTL_S3_ADMIN_API says none: MinIO, the platform's own store (storage ensure and
# rotation agree on it).
DEFAULT_BACKEND = "minio"


def user_policy(bucket: str, prefix: str = "", user: str = "") -> dict[str, Any]:
    """The consumer user's own least-privilege policy (storage.consumer_policy, no principal)."""
    from platformctl.adapters.storage import consumer_policy

    return consumer_policy(bucket, user, prefix)


class S3Admin(Protocol):
    endpoint: str

    def ensure_user(self, user: str, bucket: str, prefix: str) -> bool:
        """Create the consumer (if missing) and (re)apply its policy; True when it was created."""

    def keys(self, user: str) -> list[str]:
        """The consumer's access-key ids."""

    def create_key(self, user: str) -> tuple[str, str]:
        """Issue a new access key; returns (access key id, secret key)."""

    def delete_key(self, user: str, access_key: str) -> None:
        """Delete one access key; a key that is already gone is not an error."""


def _fail(action: str, exc: Exception) -> ConfigError:
    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
    return ConfigError(
        f"S3 admin API: {action} failed ({code or type(exc).__name__}); check PLATFORMCTL_S3_ENDPOINT, "
        "PLATFORMCTL_S3_ADMIN_API and the admin credentials in Vault (kv/<env>/minio)"
    )


class IamAdmin:
    """The AWS IAM API on `endpoint` (SeaweedFS serves it on its S3 port)."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1") -> None:
        self.endpoint = endpoint
        self.iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(retries={"max_attempts": 3}, connect_timeout=5, read_timeout=30),
        )

    def _call(self, action: str, call: Any, ignore: frozenset[str] = frozenset()) -> Any:
        try:
            return call()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ignore:
                return None
            raise _fail(action, exc) from None
        except BotoCoreError as exc:
            raise _fail(action, exc) from None

    def ensure_user(self, user: str, bucket: str, prefix: str) -> bool:
        created = self._call(
            f"CreateUser {user}",
            lambda: self.iam.create_user(UserName=user),
            frozenset({"EntityAlreadyExists"}),
        )
        document = json.dumps(user_policy(bucket, prefix, user), sort_keys=True)
        self._call(
            f"PutUserPolicy {user}",
            lambda: self.iam.put_user_policy(UserName=user, PolicyName=f"{user}-s3", PolicyDocument=document),
        )
        return created is not None

    def keys(self, user: str) -> list[str]:
        found = self._call(f"ListAccessKeys {user}", lambda: self.iam.list_access_keys(UserName=user))
        return sorted(k["AccessKeyId"] for k in found.get("AccessKeyMetadata", []))

    def create_key(self, user: str) -> tuple[str, str]:
        key = self._call(f"CreateAccessKey {user}", lambda: self.iam.create_access_key(UserName=user))
        return str(key["AccessKey"]["AccessKeyId"]), str(key["AccessKey"]["SecretAccessKey"])

    def delete_key(self, user: str, access_key: str) -> None:
        self._call(
            f"DeleteAccessKey {access_key}",
            lambda: self.iam.delete_access_key(UserName=user, AccessKeyId=access_key),
            frozenset({"NoSuchEntity"}),
        )


class MinioAdmin:
    """MinIO's admin API. Untested here (no MinIO server available); kept to the calls minio-py documents."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, region: str = "") -> None:
        from minio import MinioAdmin as Admin
        from minio.credentials.providers import StaticProvider

        url = urlsplit(endpoint)
        self.endpoint = endpoint
        try:
            self.admin = Admin(
                endpoint=url.netloc,
                credentials=StaticProvider(access_key, secret_key),
                region=region,
                secure=url.scheme == "https",
            )
        except ValueError as exc:  # empty credentials, malformed endpoint
            raise ConfigError(
                f"MinIO admin API: {exc}; check PLATFORMCTL_S3_ENDPOINT and kv/<env>/minio"
            ) from None
        self._owner = access_key  # the admin owns the service accounts
        self._policies: dict[str, dict[str, Any]] = {}

    def _call(self, action: str, call: Any) -> Any:
        from minio.error import MinioAdminException

        try:
            return call()
        except (MinioAdminException, OSError, ValueError) as exc:
            raise ConfigError(
                f"MinIO admin API: {action} failed ({type(exc).__name__}); check PLATFORMCTL_S3_ENDPOINT "
                "and the admin credentials in Vault (kv/<env>/minio)"
            ) from None

    def _accounts(self) -> list[dict[str, Any]]:
        raw = self._call("ListServiceAccounts", lambda: self.admin.list_service_account(self._owner))
        return list(json.loads(raw or "{}").get("accounts") or [])

    def ensure_user(self, user: str, bucket: str, prefix: str) -> bool:
        self._policies[user] = user_policy(bucket, prefix, user)
        self._call(
            f"PolicyAdd {user}-s3", lambda: self.admin.policy_add(f"{user}-s3", policy=self._policies[user])
        )
        return not self.keys(user)

    def keys(self, user: str) -> list[str]:
        return sorted(str(a.get("accessKey")) for a in self._accounts() if a.get("name") == user)

    def create_key(self, user: str) -> tuple[str, str]:
        policy = self._policies.get(user)
        if policy is None:
            raise ConfigError(f"MinIO: run `platformctl storage ensure` first (no policy known for {user})")
        raw = self._call(
            f"AddServiceAccount {user}",
            lambda: self.admin.add_service_account(
                name=user, description="platformctl consumer", policy=policy
            ),
        )
        creds = json.loads(raw).get("credentials", {})
        return str(creds["accessKey"]), str(creds["secretKey"])

    def delete_key(self, user: str, access_key: str) -> None:
        if access_key in self.keys(user):
            self._call(
                f"DeleteServiceAccount {access_key}", lambda: self.admin.delete_service_account(access_key)
            )


def connect(
    backend: str, endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1"
) -> S3Admin:
    if backend not in BACKENDS:
        raise ConfigError(f"PLATFORMCTL_S3_ADMIN_API '{backend}' is unknown (choose {', '.join(BACKENDS)})")
    admin_class = IamAdmin if backend == "iam" else MinioAdmin
    return admin_class(endpoint, access_key, secret_key, region)


def from_env(environ: Mapping[str, str], admin_creds: Mapping[str, str]) -> S3Admin:
    endpoint = environ.get("PLATFORMCTL_S3_ENDPOINT")
    if not endpoint:
        raise ConfigError("no S3 endpoint: set PLATFORMCTL_S3_ENDPOINT (the admin API is served there)")
    return connect(
        environ.get("PLATFORMCTL_S3_ADMIN_API", DEFAULT_BACKEND),
        endpoint,
        admin_creds.get("root-user", ""),
        admin_creds.get("root-password", ""),
        environ.get("PLATFORMCTL_S3_REGION", "us-east-1"),
    )


def can_use(endpoint: str, access_key: str, secret_key: str, bucket: str, region: str = "us-east-1") -> bool:
    """Whether the key may list `bucket` (False when the server refuses the key or the request)."""
    from platformctl.adapters.storage import client

    try:
        client(endpoint, access_key, secret_key, region).list_objects_v2(Bucket=bucket, MaxKeys=1)
    except ClientError:
        return False
    return True


def wait_for(check: Any, timeout: float, what: str) -> None:
    """Poll until `check()` holds: IAM changes reach the S3 gateways after a short delay."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise ConfigError(f"{what} after {timeout:.0f}s; check the S3 server's IAM configuration")
        time.sleep(0.2)

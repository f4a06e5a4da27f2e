"""The seed flow on the deployed system, through port-forwards to 127.0.0.1 (no ingress on the harness).

readyz of every service -> create a user -> log in -> the JWT verifies against the JWKS -> the notification
object lands in S3 within 10 s (boto3 with the notifications service's own key) -> listed by the
notifications API -> a write with a wrong secret key is refused -> the user is deleted again.
"""

from __future__ import annotations

import base64
import secrets
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import httpx
import jwt
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError
from platformctl.kube import KubeSecrets
from platformctl.paths import repo_root

from tests.e2e.cluster import E2EError
from tests.e2e.portforward import forward

SERVICES = {"users": "/users-ms", "auth": "/auth-ms", "notifications": "/notifications-ms"}
S3_WAIT_SECONDS = 10


def _settings(release: str) -> dict[str, str]:
    return dict(
        yaml.safe_load((repo_root() / "values" / "common" / f"{release}.yaml").read_text())["settings"]
    )


def _expect(response: httpx.Response, status: int, what: str) -> Any:
    if response.status_code != status:
        raise E2EError(f"{what}: HTTP {response.status_code}, expected {status}")
    return response.json() if response.content else None


def _s3(endpoint: str, access_key: str, secret_key: str) -> Any:
    config = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        region_name=_settings("notifications")["NOTIFICATIONS_S3_REGION"], config=config,
    )  # fmt: skip


def _s3_keys(store: KubeSecrets) -> tuple[str, str]:
    synced = store.get("apps", "notifications-s3")
    if synced is None:
        raise E2EError("Secret apps/notifications-s3 is missing")
    data = {k: base64.b64decode(v).decode() for k, v in synced["data"].items()}
    return data["access-key"], data["secret-key"]


def _verify_jwt(http: httpx.Client, auth: str, token: str) -> dict[str, Any]:
    jwks = _expect(http.get(f"{auth}/auth-ms/.well-known/jwks.json"), 200, "JWKS")
    kid = jwt.get_unverified_header(token)["kid"]
    key = next((k for k in jwks["keys"] if k.get("kid") == kid), None)
    if key is None:
        raise E2EError(f"the token's kid {kid} is not in the JWKS")
    issuer = _settings("auth")["AUTH_JWT_ISSUER"]
    return dict(jwt.decode(token, jwt.PyJWK(key).key, algorithms=["EdDSA"], issuer=issuer))


def _wait_object(s3: Any, bucket: str, prefix: str) -> str:
    deadline = time.monotonic() + S3_WAIT_SECONDS
    while time.monotonic() < deadline:
        found = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        if found:
            return str(found[0]["Key"])
        time.sleep(0.5)
    raise E2EError(f"no notification object under s3://{bucket}/{prefix} after {S3_WAIT_SECONDS}s")


def _wrong_key_refused(endpoint: str, access_key: str, bucket: str) -> bool:
    try:
        _s3(endpoint, access_key, secrets.token_urlsafe(24)).put_object(Bucket=bucket, Key="e2e-x", Body=b"x")
    except ClientError:
        return True
    return False


def seed_flow(kubeconfig: Path, store: KubeSecrets) -> list[list[str]]:
    """Runs the flow; returns (check, result) rows; raises E2EError on the first failure."""
    rows: list[list[str]] = []
    bucket = _settings("notifications")["NOTIFICATIONS_S3_BUCKET"]
    with ExitStack() as stack, httpx.Client(timeout=10) as http:
        url = {name: stack.enter_context(forward(kubeconfig, "apps", name, 8080)) for name in SERVICES}
        s3_url = stack.enter_context(forward(kubeconfig, "data", "seaweedfs", 9000))
        for name in SERVICES:
            _expect(http.get(f"{url[name]}/readyz"), 200, f"{name} /readyz")
        rows.append(["readyz users, auth, notifications", "200"])
        email, password = f"e2e-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)
        body = {"name": "E2E", "surname": "Check", "email": email, "password": password}
        user = _expect(http.post(f"{url['users']}/users-ms/users", json=body), 201, "create user")
        rows.append(["create user", f"id {user['id']}"])
        login = {"email": email, "password": password}
        token = _expect(http.post(f"{url['auth']}/auth-ms/auth/login", json=login), 200, "login")[
            "access_token"
        ]
        claims = _verify_jwt(http, url["auth"], token)
        rows.append(["login, JWT verified against the JWKS", f"sub {claims['sub']}"])
        access_key, secret_key = _s3_keys(store)
        key = _wait_object(_s3(s3_url, access_key, secret_key), bucket, f"users/{user['id']}/")
        rows.append([f"notification object in S3 (<= {S3_WAIT_SECONDS}s)", key])
        params = {"user_id": str(user["id"])}
        listed = _expect(http.get(f"{url['notifications']}/notifications-ms/notifications", params=params),
                         200, "list notifications")  # fmt: skip
        if not listed["items"]:
            raise E2EError("the notifications API lists nothing for the new user")
        rows.append(["listed by the notifications API", f"{len(listed['items'])} item(s)"])
        if not _wrong_key_refused(s3_url, access_key, bucket):
            raise E2EError("SeaweedFS accepted a write with a wrong secret key")
        rows.append(["S3 write with a wrong secret key", "refused"])
        _expect(http.delete(f"{url['users']}/users-ms/users/{user['id']}"), 204, "delete user")
        rows.append(["delete user", "204"])
    return rows

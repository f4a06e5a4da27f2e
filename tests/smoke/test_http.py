"""HTTP through the entry point, the seed flow, and the object store with the consumer's credentials."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import boto3
import httpx
import jwt
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from platformctl.app import smoke
from platformctl.config.release import Release

from tests.smoke import cluster
from tests.smoke.conftest import Entry

S3_WAIT_SECONDS = 10
SEED_SERVICES = ("users", "auth", "notifications")


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probe_endpoint(
    service: Release, path: str, entry: Entry, http: httpx.Client, request: pytest.FixtureRequest
) -> None:
    response = http.get(f"{entry.health(service.name)}{path}")
    assert response.status_code == 200, f"{service.name} {path}: HTTP {response.status_code}"
    smoke.record(request, f"200 via {entry.kind}")


def _api(entry: Entry, http: httpx.Client, method: str, service: str, path: str, **kw: Any) -> httpx.Response:
    prefix = {"users": "/users-ms", "auth": "/auth-ms", "notifications": "/notifications-ms"}[service]
    base, headers = entry.api(service)
    return http.request(method, f"{base}{prefix}{path}", headers=headers, **kw)


@pytest.fixture(scope="module")
def s3_endpoint(settings: dict[str, dict[str, str]]) -> Iterator[str]:
    """The notifications release's S3 endpoint (an in-cluster Service), port-forwarded to 127.0.0.1."""
    url = urlparse(settings["notifications"]["NOTIFICATIONS_S3_ENDPOINT"])
    host = (url.hostname or "").split(".")
    assert len(host) >= 2, f"S3 endpoint {url.geturl()} is not <service>.<namespace>[.svc...]"
    with cluster.forward(host[1], host[0], url.port or 80) as port:
        yield f"http://127.0.0.1:{port}"


def _s3(endpoint: str, region: str, access_key: str, secret_key: str) -> Any:
    config = Config(
        retries={"max_attempts": 1}, s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=10
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        config=config,
    )


@pytest.fixture(scope="module")
def store(s3_endpoint: str, settings: dict[str, dict[str, str]]) -> tuple[Any, str]:
    """boto3 on the consumer's own credentials (read through the Kubernetes API, never printed)."""
    keys = cluster.secret_data("apps", "notifications-s3")
    region = settings["notifications"]["NOTIFICATIONS_S3_REGION"]
    client = _s3(s3_endpoint, region, keys["access-key"], keys["secret-key"])
    return client, settings["notifications"]["NOTIFICATIONS_S3_BUCKET"]


def _wait_object(s3: Any, bucket: str, prefix: str) -> str:
    deadline = time.monotonic() + S3_WAIT_SECONDS
    while time.monotonic() < deadline:
        found = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        if found:
            return str(found[0]["Key"])
        time.sleep(0.5)
    raise AssertionError(f"no notification object under s3://{bucket}/{prefix} after {S3_WAIT_SECONDS}s")


def _delete_prefix(s3: Any, bucket: str, prefix: str) -> None:
    """Remove the smoke user's notification objects (the user itself is removed by its fixture)."""
    for found in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=found["Key"])


def _verify(entry: Entry, http: httpx.Client, token: str, auth: dict[str, str]) -> dict[str, Any]:
    jwks = _api(entry, http, "GET", "auth", "/.well-known/jwks.json")
    assert jwks.status_code == 200, f"JWKS: HTTP {jwks.status_code}"
    kid = jwt.get_unverified_header(token)["kid"]
    key = next((k for k in jwks.json()["keys"] if k.get("kid") == kid), None)
    assert key is not None, f"the token's kid {kid} is not in the JWKS"
    return dict(
        jwt.decode(
            token,
            jwt.PyJWK(key).key,
            algorithms=["EdDSA"],
            issuer=auth["AUTH_JWT_ISSUER"],
            audience=auth["AUTH_JWT_AUDIENCE"],
        )
    )


def _login(entry: Entry, http: httpx.Client, user: dict[str, Any]) -> str:
    credentials = {"email": user["email"], "password": user["password"]}
    login = _api(entry, http, "POST", "auth", "/auth/login", json=credentials)
    assert login.status_code == 200, f"login: HTTP {login.status_code}"
    return str(login.json()["access_token"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _delete_self(entry: Entry, http: httpx.Client, user: dict[str, Any], token: str) -> None:
    """The user deletes their own account with their own token."""
    path = f"/users/{user['id']}"
    deleted = http.request(
        "DELETE", _url(entry, "users", path), headers={**_headers(entry, "users"), **_bearer(token)}
    )
    assert deleted.status_code == 204, f"delete the smoke user with its own token: HTTP {deleted.status_code}"
    user["deleted"] = True


def _url(entry: Entry, service: str, path: str) -> str:
    prefix = {"users": "/users-ms", "auth": "/auth-ms", "notifications": "/notifications-ms"}[service]
    return f"{entry.api(service)[0]}{prefix}{path}"


def _headers(entry: Entry, service: str) -> dict[str, str]:
    return entry.api(service)[1]


@pytest.fixture
def user(entry: Entry, http: httpx.Client) -> Iterator[dict[str, Any]]:
    """A throw-away user (sign-up needs no token), deleted again whatever the flow's outcome."""
    email, password = f"smoke-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)
    body = {"name": "Smoke", "surname": "Check", "email": email, "password": password}
    created = _api(entry, http, "POST", "users", "/users", json=body)
    assert created.status_code == 201, f"create user: HTTP {created.status_code}"
    found: dict[str, Any] = {**created.json(), "email": email, "password": password}
    yield found
    if not found.get("deleted"):
        _delete_self(entry, http, found, _login(entry, http, found))


@pytest.mark.component(*SEED_SERVICES)
def test_seed_flow(
    user: dict[str, Any],
    entry: Entry,
    http: httpx.Client,
    store: tuple[Any, str],
    settings: dict[str, dict[str, str]],
    request: pytest.FixtureRequest,
) -> None:
    token = _login(entry, http, user)
    claims = _verify(entry, http, token, settings["auth"])
    assert str(claims["sub"]) == str(user["id"]), "the token's subject is not the new user"
    assert claims.get("role") == "user", f"a new account's token carries role {claims.get('role')!r}"
    s3, bucket = store
    prefix = f"users/{user['id']}/"
    try:
        key = _wait_object(s3, bucket, prefix)
        time.sleep(1)  # a second delivery of the login's event would land within this
        objects = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        keys = [found["Key"] for found in objects]
        assert keys == [key], f"one login, {len(keys)} notifications: {keys}"
        params = {"user_id": str(user["id"])}
        listed = _api(entry, http, "GET", "notifications", "/notifications", params=params)
        assert listed.status_code == 401, f"notifications without a token: HTTP {listed.status_code}"
        listed = http.get(
            _url(entry, "notifications", "/notifications"),
            params=params,
            headers={**_headers(entry, "notifications"), **_bearer(token)},
        )
        assert listed.status_code == 200 and listed.json()["items"], "the notifications API lists nothing"
    finally:
        _delete_prefix(s3, bucket, prefix)
    _delete_self(entry, http, user, token)
    smoke.record(
        request,
        f"user {user['id']}: login, JWT verified, {key}, listed and deleted with its token ({entry.kind})",
    )


PROTECTED = {"users": "/users-ms/users", "notifications": "/notifications-ms/notifications?user_id=1"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.component(n)) for n in sorted(PROTECTED)])
def test_no_token_is_401(name: str, entry: Entry, http: httpx.Client, request: pytest.FixtureRequest) -> None:
    """Directly at the service (a port-forward past the ingress) and, when deployed, through the ingress."""
    direct = http.get(f"{entry.health(name)}{PROTECTED[name]}")
    assert direct.status_code == 401, f"{name} directly, no token: HTTP {direct.status_code}"
    assert direct.headers.get("www-authenticate", "").startswith("Bearer"), "no Bearer challenge"
    seen = ["direct 401"]
    if entry.kind == "traefik":
        base, headers = entry.api(name)
        routed = http.get(f"{base}{PROTECTED[name]}", headers=headers)
        assert routed.status_code == 401, f"{name} through the ingress, no token: HTTP {routed.status_code}"
        seen.append("ingress 401")
    smoke.record(request, ", ".join(seen))


@pytest.mark.component("users")
def test_credential_check_is_not_on_the_public_port(
    entry: Entry, http: httpx.Client, request: pytest.FixtureRequest
) -> None:
    """users' internal route answers on its own port only: 404 on the public one and through the ingress."""
    body = {"email": "nobody@example.com", "password": "x"}
    paths = ["/users-ms/internal/credentials/verify", "/users-ms/%69nternal/credentials/verify"]
    bases = [(entry.health("users"), {})] + ([entry.api("users")] if entry.kind == "traefik" else [])
    for base, headers in bases:
        for path in paths:
            response = http.post(f"{base}{path}", json=body, headers=headers)
            assert response.status_code == 404, f"{base}{path}: HTTP {response.status_code}"
    smoke.record(request, f"404 on {len(bases) * len(paths)} tries")


@pytest.mark.component("notifications")
def test_object_store_round_trip(store: tuple[Any, str], request: pytest.FixtureRequest) -> None:
    s3, bucket = store
    key, body = f"smoke/{secrets.token_hex(6)}", secrets.token_bytes(64)
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    try:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    finally:
        s3.delete_object(Bucket=bucket, Key=key)
    assert not s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents"), "object still listed"
    smoke.record(request, f"put/get/delete s3://{bucket}/smoke/...")


@pytest.mark.component("notifications")
def test_object_store_refuses_wrong_credentials(
    s3_endpoint: str, settings: dict[str, dict[str, str]], request: pytest.FixtureRequest
) -> None:
    keys = cluster.secret_data("apps", "notifications-s3")
    notifications = settings["notifications"]
    wrong = _s3(
        s3_endpoint, notifications["NOTIFICATIONS_S3_REGION"], keys["access-key"], secrets.token_urlsafe(24)
    )
    bucket, key = notifications["NOTIFICATIONS_S3_BUCKET"], f"smoke/{secrets.token_hex(6)}"
    with pytest.raises(ClientError) as refused:
        wrong.put_object(Bucket=bucket, Key=key, Body=b"x")
    smoke.record(request, f"refused: {refused.value.response['Error'].get('Code', '?')}")

"""The credential check lives on users-ms's internal port only: the public port answers 404 for it
however the path is spelled (raw bytes on the wire, so no client normalises the percent-encoding)."""

from __future__ import annotations

import json
import secrets
import socket
import urllib.parse

import httpx
import pytest

VERIFY = "/users-ms/internal/credentials/verify"
SPELLINGS = [
    VERIFY,
    "/users-ms/%69nternal/credentials/verify",
    "/users-ms/internal%2Fcredentials/verify",
    "/users-ms/internal%2fcredentials%2fverify",
    "/users-ms/%2569nternal/credentials/verify",
    "/users-ms//internal/credentials/verify",
    "/users-ms/./internal/credentials/verify",
    "/users-ms/users/../internal/credentials/verify",
    "/%75sers-ms/internal/credentials/verify",
]


@pytest.fixture(scope="module")
def users(start_service, users_database, token_issuer):
    env = {**users_database.env(), **token_issuer.env("USERS"), "USERS_BCRYPT_ROUNDS": "4"}
    return start_service("users_service", env)


@pytest.fixture(scope="module")
def account(users) -> dict[str, str]:
    body = {
        "name": "Kurt",
        "surname": "Goedel",
        "email": f"kurt.{secrets.token_hex(4)}@example.org",
        "password": secrets.token_urlsafe(12),
    }
    assert httpx.post(f"{users.url}/users-ms/users", json=body).status_code == 201
    return {"email": body["email"], "password": body["password"]}


def raw_post(base_url: str, path: str, body: dict[str, str]) -> int:
    """POST with `path` sent byte for byte; returns the status code."""
    url = urllib.parse.urlsplit(base_url)
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        conn.sendall(head + payload)
        status_line = conn.makefile("rb").readline().decode()
    return int(status_line.split()[1])


@pytest.mark.parametrize("path", SPELLINGS)
def test_public_port_never_answers_the_credential_check(users, account, path) -> None:
    assert raw_post(users.url, path, account) == 404


def test_internal_port_answers_it_with_the_role(users, account) -> None:
    assert raw_post(users.internal_url, VERIFY, account) == 200
    response = httpx.post(f"{users.internal_url}{VERIFY}", json=account)
    assert response.json()["role"] == "user" and response.json()["email"] == account["email"]
    wrong = httpx.post(f"{users.internal_url}{VERIFY}", json={**account, "password": "wrong-password"})
    assert wrong.status_code == 401


def test_internal_port_serves_nothing_public(users) -> None:
    assert httpx.get(f"{users.internal_url}/users-ms/users").status_code == 404
    body = {
        "name": "N",
        "surname": "S",
        "email": f"n.{secrets.token_hex(3)}@example.org",
        "password": "x" * 12,
    }
    assert httpx.post(f"{users.internal_url}/users-ms/users", json=body).status_code == 404
    assert httpx.get(f"{users.internal_url}/readyz").status_code == 200  # auth-ms's readiness check
    # the requests of both ports are counted in the one registry scraped on the public port
    metrics = httpx.get(f"{users.url}/metrics").text
    assert 'route="/users-ms/internal/credentials/verify",status="200"' in metrics

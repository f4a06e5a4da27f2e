"""Hostile input to the login, as real processes (auth-ms in front of users-ms on real PostgreSQL): text
PostgreSQL cannot store is auth-ms's own 422, not a 503 "users service unavailable"; look-alike spellings
of an address log in to the one account."""

from __future__ import annotations

import json
import secrets

import httpx
import pytest

from services.conftest import new_signing_key, write_keyset

LOGIN = "/auth-ms/auth/login"
FULL_WIDTH_OFFSET = 0xFF41 - ord("a")


@pytest.fixture(scope="module")
def services(start_service, users_database, token_issuer, tmp_path_factory):
    users = start_service(
        "users_service", {**users_database.env(), **token_issuer.env("USERS"), "USERS_BCRYPT_ROUNDS": "4"}
    )
    folder = tmp_path_factory.mktemp("auth-input")
    keyset = write_keyset(folder / "keyset.json", "k", [new_signing_key("k")])
    auth = start_service(
        "auth_service",
        {
            "AUTH_USERS_URL": str(users.internal_url),
            "AUTH_JWT_KEYSET_FILE": str(keyset),
        },
    )
    return {"users": users, "auth": auth}


def login(auth_url: str, email: str, password: str) -> httpx.Response:
    """Sent with \\u escapes, so a lone surrogate travels as JSON allows."""
    body = json.dumps({"email": email, "password": password}, ensure_ascii=True)
    return httpx.post(f"{auth_url}{LOGIN}", content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize("bad", ["\x00", "\ud800"], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize("field", ["email", "password"])
def test_unstorable_text_is_422_naming_the_field(services, field: str, bad: str) -> None:
    credentials = {"email": "ada@example.org", "password": "correct horse"}
    credentials[field] = credentials[field][:2] + bad + credentials[field][2:]
    response = login(services["auth"].url, **credentials)
    assert response.status_code == 422, response.text
    assert [err["loc"] for err in response.json()["detail"]] == [["body", field]]
    assert "correct" not in response.text and "input" not in response.text


def test_look_alike_spellings_log_in_to_one_account(services) -> None:
    tag = secrets.token_hex(4)
    plain = f"grace.{tag}@example.org"
    full_width = "".join(chr(ord(c) + FULL_WIDTH_OFFSET) if "a" <= c <= "z" else c for c in f"grace.{tag}")
    password = secrets.token_urlsafe(12)
    body = {"name": "Grace", "surname": "Hopper", "email": f"{full_width}@EXAMPLE.org", "password": password}
    created = httpx.post(f"{services['users'].url}/users-ms/users", json=body)
    assert created.status_code == 201 and created.json()["email"] == plain, created.text
    for spelling in (plain, plain.upper(), f"{full_width}@example.org"):
        response = login(services["auth"].url, spelling, password)
        assert response.status_code == 200, (spelling, response.text)
    assert login(services["auth"].url, plain, "wrong password").status_code == 401


def test_overlong_local_part_is_422_not_a_lookup(services) -> None:
    response = login(services["auth"].url, f"{'a' * 65}@example.org", "whatever-password")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "email"]

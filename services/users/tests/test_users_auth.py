"""users-ms as a real process: every route but sign-up needs a token; a user acts on their own record,
an admin on anyone's and lists them all."""

from __future__ import annotations

import secrets
import time

import httpx
import pytest

from services.conftest import bearer


@pytest.fixture(scope="module")
def users(start_service, users_database, token_issuer):
    env = {**users_database.env(), **token_issuer.env("USERS"), "USERS_BCRYPT_ROUNDS": "4"}
    return start_service("users_service", env)


def sign_up(users) -> dict:
    body = {
        "name": "Alan",
        "surname": "Turing",
        "email": f"alan.{secrets.token_hex(4)}@example.org",
        "password": secrets.token_urlsafe(12),
    }
    response = httpx.post(f"{users.url}/users-ms/users", json=body)  # no token: sign-up stays open
    assert response.status_code == 201, response.text
    return {**response.json(), "password": body["password"]}


def call(users, method: str, path: str, token: str | None = None, **kw) -> httpx.Response:
    headers = bearer(token) if token else {}
    return httpx.request(method, f"{users.url}/users-ms{path}", headers=headers, timeout=10, **kw)


def update_body(user: dict, name: str) -> dict:
    return {"name": name, "surname": user["surname"], "email": user["email"]}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/users"), ("GET", "/users/1"), ("PUT", "/users/1"), ("DELETE", "/users/1")],
)
def test_without_a_token_every_route_but_sign_up_is_401(users, method, path) -> None:
    body = {"name": "N", "surname": "S", "email": "n.s@example.org"} if method == "PUT" else None
    response = call(users, method, path, json=body)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("case", "overrides"),
    [("expired", {"exp": -60}), ("wrong audience", {"aud": "elsewhere"}), ("wrong issuer", {"iss": "x"})],
)
def test_invalid_tokens_are_401(users, token_issuer, case, overrides) -> None:
    user = sign_up(users)
    if "exp" in overrides:
        overrides = {"exp": int(time.time()) - 60, "iat": int(time.time()) - 400}
    token = token_issuer.token(user["id"], **overrides)
    response = call(users, "GET", f"/users/{user['id']}", token)
    assert response.status_code == 401, f"{case}: {response.text}"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_user_reads_updates_and_deletes_their_own_record(users, token_issuer) -> None:
    user = sign_up(users)
    token = token_issuer.token(user["id"])
    assert call(users, "GET", f"/users/{user['id']}", token).json()["email"] == user["email"]
    changed = call(users, "PUT", f"/users/{user['id']}", token, json=update_body(user, "Alonzo"))
    assert changed.status_code == 200 and changed.json()["name"] == "Alonzo"
    assert call(users, "DELETE", f"/users/{user['id']}", token).status_code == 204


def test_a_user_may_not_touch_others_or_list(users, token_issuer) -> None:
    me, other = sign_up(users), sign_up(users)
    token = token_issuer.token(me["id"])
    assert call(users, "GET", "/users", token).status_code == 403
    assert call(users, "GET", f"/users/{other['id']}", token).status_code == 403
    assert (
        call(users, "PUT", f"/users/{other['id']}", token, json=update_body(other, "Eve")).status_code == 403
    )
    assert call(users, "DELETE", f"/users/{other['id']}", token).status_code == 403
    assert call(users, "GET", "/users/987654321", token).status_code == 403  # no probing for ids either
    admin = token_issuer.token("1", role="admin")
    assert call(users, "GET", f"/users/{other['id']}", admin).json()["name"] == "Alan"  # untouched


def test_an_admin_lists_reads_updates_and_deletes_anyone(users, token_issuer) -> None:
    other = sign_up(users)
    admin = token_issuer.token("1", role="admin")
    listed = call(users, "GET", "/users", admin, params={"email": other["email"]})
    assert listed.status_code == 200 and [u["id"] for u in listed.json()["items"]] == [other["id"]]
    assert call(users, "GET", f"/users/{other['id']}", admin).status_code == 200
    assert (
        call(users, "PUT", f"/users/{other['id']}", admin, json=update_body(other, "Ada")).status_code == 200
    )
    assert call(users, "DELETE", f"/users/{other['id']}", admin).status_code == 204
    assert call(users, "GET", f"/users/{other['id']}", admin).status_code == 404


def test_a_role_other_than_admin_is_an_ordinary_user(users, token_issuer) -> None:
    token = token_issuer.token("5", role="Admin")
    assert call(users, "GET", "/users", token).status_code == 403

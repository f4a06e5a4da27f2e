"""Hostile input to users-ms (in-process, real PostgreSQL): text PostgreSQL cannot store, integers beyond
its BIGINT, and look-alike e-mails. Each is a 422 naming the field (or a collision), never a 500."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from services.conftest import bearer

USERS = "/users-ms/users"
VERIFY = "/users-ms/internal/credentials/verify"
BIGINT_MAX = 2**63 - 1
NUL = "\x00"
LONE_SURROGATE = "\ud800"  # valid in JSON (`"\ud800"`), has no UTF-8 form
FULL_WIDTH = {c: chr(ord(c) - ord("a") + 0xFF41) for c in "abcdefghijklmnopqrstuvwxyz"}


@pytest.fixture(scope="module")
def client(users_apps, token_issuer) -> Iterator[TestClient]:
    headers = bearer(token_issuer.token("0", role="admin"))
    with TestClient(users_apps[0], headers=headers, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def internal(users_apps, client) -> Iterator[TestClient]:
    with TestClient(users_apps[0].extra[users_apps[1]], raise_server_exceptions=False) as test_client:
        yield test_client


def send(client: TestClient, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
    """JSON with \\u escapes (as any client may send), so a lone surrogate travels as JSON allows."""
    content = json.dumps(body, ensure_ascii=True).encode()
    return client.request(method, path, content=content, headers={"content-type": "application/json"})


def new_user(**overrides: str) -> dict[str, str]:
    tag = secrets.token_hex(4)
    base = {
        "name": "Ada",
        "surname": "Lovelace",
        "email": f"ada.{tag}@example.org",
        "password": "correct horse",
    }
    return {**base, **overrides}


def fields_named(response: httpx.Response) -> set[str]:
    return {str(loc) for err in response.json()["detail"] for loc in err["loc"]}


def assert_422_naming(response: httpx.Response, field: str, value: str) -> None:
    assert response.status_code == 422, response.text
    assert field in fields_named(response)
    assert "input" not in response.text and json.dumps(value)[1:-1] not in response.text


def full_width(text: str) -> str:
    return "".join(FULL_WIDTH.get(c, c) for c in text)


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize("field", ["name", "surname", "email", "password"])
def test_unstorable_text_in_a_body_is_422_naming_the_field(client: TestClient, field: str, bad: str) -> None:
    user = new_user()
    value = user[field].replace("@", f"{bad}@") if field == "email" else f"ok{bad}ok" + user[field]
    assert_422_naming(send(client, "POST", USERS, {**user, field: value}), field, value)
    existing = client.post(USERS, json=new_user()).json()
    assert_422_naming(send(client, "PUT", f"{USERS}/{existing['id']}", {**user, field: value}), field, value)


@pytest.mark.parametrize("field", ["email", "name", "surname"])
def test_nul_in_a_filter_is_422_naming_it(client: TestClient, field: str) -> None:
    response = client.get(USERS, params={field: f"ada{NUL}@example.org"})
    assert_422_naming(response, field, f"ada{NUL}@example.org")


@pytest.mark.parametrize("field", ["email", "password"])
@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "lone-surrogate"])
def test_unstorable_text_in_the_credential_check_is_422(internal: TestClient, field: str, bad: str) -> None:
    body = {"email": "ada@example.org", "password": "correct horse"}
    value = f"x{bad}{body[field]}"
    assert_422_naming(send(internal, "POST", VERIFY, {**body, field: value}), field, value)


@pytest.mark.parametrize("user_id", [str(BIGINT_MAX + 1), str(10**30), "0", "-1"])
def test_user_ids_outside_bigint_ids_are_422(client: TestClient, user_id: str) -> None:
    for method, body in (("GET", None), ("PUT", new_user()), ("DELETE", None)):
        response = client.request(method, f"{USERS}/{user_id}", json=body)
        assert response.status_code == 422, (method, response.text)
        assert fields_named(response) >= {"path", "user_id"}


def test_largest_bigint_id_is_a_plain_404(client: TestClient) -> None:
    assert client.get(f"{USERS}/{BIGINT_MAX}").status_code == 404
    assert client.delete(f"{USERS}/{BIGINT_MAX}").status_code == 404


def test_offset_beyond_bigint_is_422_and_the_largest_is_an_empty_page(client: TestClient) -> None:
    for offset in (BIGINT_MAX + 1, 2**64, 10**30):
        response = client.get(USERS, params={"offset": offset})
        assert response.status_code == 422 and "offset" in fields_named(response), response.text
    last = client.get(USERS, params={"offset": BIGINT_MAX})
    assert last.status_code == 200 and last.json()["items"] == [], last.text


def test_full_width_and_case_variants_are_one_account(client: TestClient, internal: TestClient) -> None:
    tag = secrets.token_hex(4)
    plain = f"ada.{tag}@example.org"
    created = client.post(USERS, json=new_user(email=full_width(f"ADA.{tag}") + "@Example.ORG"))
    assert created.status_code == 201, created.text
    assert created.json()["email"] == plain  # stored canonical
    for variant in (plain, plain.upper(), full_width(plain)):
        again = client.post(USERS, json=new_user(email=variant))
        assert again.status_code == 409, (variant, again.text)
        found = client.get(USERS, params={"email": variant}).json()["items"]
        assert [user["id"] for user in found] == [created.json()["id"]], variant
        check = internal.post(VERIFY, json={"email": variant, "password": "correct horse"})
        assert check.status_code == 200 and check.json()["email"] == plain, (variant, check.text)


def test_update_cannot_take_a_look_alike_of_another_address(client: TestClient) -> None:
    tag = secrets.token_hex(4)
    first = client.post(USERS, json=new_user(email=f"strasse.{tag}@example.org")).json()
    second = client.post(USERS, json=new_user()).json()
    sharp_s = f"STRA\u00dfE.{tag}@example.org"  # folds to strasse
    taken = client.put(f"{USERS}/{second['id']}", json=new_user(email=sharp_s))
    assert taken.status_code == 409, taken.text
    own = client.put(f"{USERS}/{first['id']}", json=new_user(email=sharp_s))
    assert own.status_code == 200 and own.json()["email"] == f"strasse.{tag}@example.org"


def test_rfc_5321_lengths(client: TestClient) -> None:
    local = "a" * 58 + secrets.token_hex(3)  # 64 octets
    assert client.post(USERS, json=new_user(email=f"{local}@example.org")).status_code == 201
    too_long_local = client.post(USERS, json=new_user(email=f"b{local}@example.org"))
    assert too_long_local.status_code == 422 and "email" in fields_named(too_long_local)
    labels = ".".join(["d" * 60] * 4)
    too_long = client.post(USERS, json=new_user(email=f"{'c' * 10}@{labels}.org"))  # 258 octets
    assert too_long.status_code == 422 and "email" in fields_named(too_long)
    filtered = client.get(USERS, params={"email": f"b{local}@example.org"})
    assert filtered.status_code == 422 and "email" in fields_named(filtered)

"""users-ms against the machine's real PostgreSQL (a throw-away database per session), in-process; the
requests carry an admin token from the test issuer (authorization itself: test_users_auth.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.conftest import bearer


@pytest.fixture(scope="module")
def client(users_apps, token_issuer) -> Iterator[TestClient]:
    with TestClient(users_apps[0], headers=bearer(token_issuer.token("0", role="admin"))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def internal(users_apps, client) -> Iterator[TestClient]:
    """The internal port's app (credential check); the public client keeps the shared pool open."""
    with TestClient(users_apps[0].extra[users_apps[1]]) as test_client:
        yield test_client


def new_user(**overrides: str) -> dict[str, str]:
    tag = secrets.token_hex(4)
    return {
        "name": "Ada",
        "surname": "Lovelace",
        "email": f"ada.{tag}@example.org",
        "password": "correct horse",
        **overrides,
    }


def test_create_get_update_delete(client: TestClient) -> None:
    body = new_user(email="Mixed.Case@Example.ORG".replace("Mixed", secrets.token_hex(3)))
    created = client.post("/users-ms/users", json=body)
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == body["email"].lower()
    assert "password" not in user and "password_hash" not in user
    assert client.get(f"/users-ms/users/{user['id']}").json() == user

    changed = client.put(f"/users-ms/users/{user['id']}", json={**body, "name": "Augusta", "password": None})
    assert changed.status_code == 200 and changed.json()["name"] == "Augusta"

    assert client.delete(f"/users-ms/users/{user['id']}").status_code == 204
    assert client.get(f"/users-ms/users/{user['id']}").status_code == 404
    assert client.delete(f"/users-ms/users/{user['id']}").status_code == 404


def test_filters_and_pagination(client: TestClient) -> None:
    surname = "Filter" + secrets.token_hex(4)
    ids = [
        client.post("/users-ms/users", json=new_user(name=f"N{i % 2}", surname=surname)).json()["id"]
        for i in range(5)
    ]
    page = client.get("/users-ms/users", params={"surname": surname.lower(), "limit": 2, "offset": 1}).json()
    assert page["total"] == 5 and [u["id"] for u in page["items"]] == ids[1:3]
    named = client.get("/users-ms/users", params={"surname": surname, "name": "n1"}).json()
    assert [u["id"] for u in named["items"]] == [ids[1], ids[3]]
    first = client.get(f"/users-ms/users/{ids[0]}").json()
    by_email = client.get("/users-ms/users", params={"email": first["email"].upper()}).json()
    assert [u["id"] for u in by_email["items"]] == [ids[0]]


def test_credentials_verify_never_returns_the_hash(client: TestClient, internal: TestClient) -> None:
    body = new_user()
    user = client.post("/users-ms/users", json=body).json()
    verify = "/users-ms/internal/credentials/verify"
    ok = internal.post(verify, json={"email": body["email"], "password": body["password"]})
    assert ok.status_code == 200 and ok.json() == {
        "user_id": user["id"],
        "email": body["email"],
        "role": "user",
    }
    wrong = internal.post(verify, json={"email": body["email"], "password": "nope-nope"})
    unknown = internal.post(verify, json={"email": "nobody@example.org", "password": body["password"]})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_password_change_through_put(client: TestClient, internal: TestClient) -> None:
    body = new_user()
    user = client.post("/users-ms/users", json=body).json()
    client.put(f"/users-ms/users/{user['id']}", json={**body, "password": "a new secret"})
    check = {"email": body["email"], "password": "a new secret"}
    assert internal.post("/users-ms/internal/credentials/verify", json=check).status_code == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"name": ""}, "name"),
        ({"password": "short"}, "password"),
        ({"password": "é" * 40}, "password"),
    ],
)
def test_invalid_fields_are_422_naming_the_field(client: TestClient, payload: dict, field: str) -> None:
    response = client.post("/users-ms/users", json=new_user(**payload))
    assert response.status_code == 422
    assert "correct horse" not in response.text and "input" not in response.text  # values never echoed
    assert field in {loc for err in response.json()["detail"] for loc in err["loc"]}


def test_missing_field_is_422(client: TestClient) -> None:
    body = new_user()
    del body["surname"]
    response = client.post("/users-ms/users", json=body)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "surname"]


def test_bad_requests_are_never_500(client: TestClient) -> None:
    body = new_user()
    assert client.post("/users-ms/users", json=body).status_code == 201
    assert client.post("/users-ms/users", json={**body, "email": body["email"].upper()}).status_code == 409
    other = client.post("/users-ms/users", json=new_user()).json()
    assert client.put(f"/users-ms/users/{other['id']}", json={**body, "password": None}).status_code == 409
    assert client.put("/users-ms/users/987654321", json=new_user()).status_code == 404
    json_header = {"content-type": "application/json"}
    malformed = client.post("/users-ms/users", content=b'{"name": ', headers=json_header)
    assert malformed.status_code == 422
    # The body limit itself is tested in services/common; this proves users-ms is wired to it.
    huge = client.post("/users-ms/users", json={**new_user(), "name": "x" * 70_000})
    assert huge.status_code == 413


def test_health_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    client.get("/users-ms/users/424242")
    text = client.get("/metrics").text
    assert 'http_requests_total{method="GET",route="/users-ms/users/{user_id}",status="404"}' in text
    bucket = 'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/users-ms/users/{user_id}"}'
    assert bucket in text

"""The whole login flow across real processes: users-ms (real PostgreSQL) → auth-ms (JWT, RabbitMQ with
publisher confirms) → notifications-ms (real RabbitMQ vhost, SeaweedFS S3)."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import httpx
import jwt
import pytest

from services.conftest import (
    Service,
    amqp_bind_queue,
    bearer,
    metric_value,
    new_signing_key,
    object_keys,
    wait_ready,
    write_keyset,
)
from tests.fixtures.servers import free_port, wait_until

AUDIENCE = "platform-flow"


@pytest.fixture(scope="module")
def stack(start_service, users_database, vhosts, rabbit_credentials, notifications_env, tmp_path_factory):
    folder = tmp_path_factory.mktemp("auth-flow")
    (folder / "db-password").write_text("unused-with-trust-auth\n")
    vhost = vhosts.new("flow")
    bucket = f"flow-{secrets.token_hex(4)}"
    keys = [new_signing_key("old", "RS256"), new_signing_key("new")]
    keyset = write_keyset(folder / "keyset.json", "new", keys)
    users_internal_port = free_port()  # auth-ms first (the others fetch its JWKS), pointed at users-ms's port
    auth = start_service(
        "auth_service",
        {
            "AUTH_USERS_URL": f"http://127.0.0.1:{users_internal_port}",
            "AUTH_JWT_KEYSET_FILE": str(keyset),
            "AUTH_JWT_ISSUER": "auth-test",
            "AUTH_JWT_AUDIENCE": AUDIENCE,
            "AUTH_RABBITMQ_HOST": rabbit_credentials["host"],
            "AUTH_RABBITMQ_PORT": rabbit_credentials["port"],
            "AUTH_RABBITMQ_VHOST": vhost,
            "AUTH_RABBITMQ_USERNAME_FILE": rabbit_credentials["username_file"],
            "AUTH_RABBITMQ_PASSWORD_FILE": rabbit_credentials["password_file"],
        },
    )
    tokens = {
        "JWKS_URL": f"{auth.url}/auth-ms/.well-known/jwks.json",
        "JWT_ISSUER": "auth-test",
        "JWT_AUDIENCE": AUDIENCE,
        "JWKS_REFETCH_SECONDS": "0",
    }
    users = start_service(
        "users_service",
        {
            **users_database.env(),
            **{f"USERS_{key}": value for key, value in tokens.items()},
            "USERS_INTERNAL_PORT": str(users_internal_port),
            "USERS_BCRYPT_ROUNDS": "4",
            "USERS_DB_PASSWORD_FILE": str(folder / "db-password"),
        },
    )
    notifications_settings = {f"NOTIFICATIONS_{key}": value for key, value in tokens.items()}
    notifications = start_service(
        "notifications_service", {**notifications_env(vhost, bucket), **notifications_settings}
    )
    wait_ready(notifications.url)  # the queue exists before the first login publishes
    return {"users": users, "auth": auth, "notifications": notifications, "bucket": bucket, "keyset": keyset}


def create_user(users: Service) -> dict:
    password = secrets.token_urlsafe(12)
    body = {
        "name": "Grace",
        "surname": "Hopper",
        "email": f"grace.{secrets.token_hex(4)}@example.org",
        "password": password,
    }
    response = httpx.post(f"{users.url}/users-ms/users", json=body)
    assert response.status_code == 201, response.text
    return {**response.json(), "password": password}


def test_login_token_verifies_and_notification_is_recorded(stack, s3_client) -> None:
    user = create_user(stack["users"])
    auth = stack["auth"].url
    credentials = {"email": user["email"], "password": user["password"]}
    request_id = f"flow-{secrets.token_hex(8)}"
    headers = {"x-request-id": request_id}
    response = httpx.post(f"{auth}/auth-ms/auth/login", json=credentials, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == request_id
    # the request id travels to users-ms, and neither service logs the password
    wait_until(lambda: f'"request_id": "{request_id}"' in stack["users"].log(), 5, "request id in users log")
    for service in ("users", "auth"):
        assert user["password"] not in stack[service].log()
    token = response.json()["access_token"]

    jwks = jwt.PyJWKSet.from_dict(httpx.get(f"{auth}/auth-ms/.well-known/jwks.json").json())
    assert sorted(key.key_id for key in jwks.keys) == ["new", "old"]
    header = jwt.get_unverified_header(token)
    assert header["kid"] == "new" and header["alg"] == "EdDSA"
    claims = jwt.decode(
        token, jwks[header["kid"]].key, algorithms=["EdDSA"], issuer="auth-test", audience=AUDIENCE
    )
    assert claims["sub"] == str(user["id"]) and claims["exp"] > claims["iat"] and len(claims["jti"]) == 36
    assert claims["aud"] == AUDIENCE and claims["role"] == "user"

    prefix = f"users/{user['id']}/"
    deadline = time.monotonic() + 5
    while not object_keys(s3_client, stack["bucket"], prefix) and time.monotonic() < deadline:
        time.sleep(0.1)
    keys = object_keys(s3_client, stack["bucket"], prefix)
    assert len(keys) == 1, "no notification object within 5 s"
    url = f"{stack['notifications'].url}/notifications-ms/notifications"
    listed = httpx.get(url, params={"user_id": user["id"]}, headers=bearer(token)).json()["items"]
    assert [f"{prefix}{item['event_id']}.json" for item in listed] == keys
    assert listed[0]["email"] == user["email"] and listed[0]["source_ip"] == "127.0.0.1"
    assert metric_value(auth, "auth_events_published_total") >= 1
    assert metric_value(auth, "auth_logins_total") >= 1


def test_wrong_password_and_unknown_user_get_the_same_401(stack) -> None:
    user = create_user(stack["users"])
    login = f"{stack['auth'].url}/auth-ms/auth/login"
    before = metric_value(stack["auth"].url, "auth_login_failures_total")
    wrong = httpx.post(login, json={"email": user["email"], "password": "not-the-password"})
    unknown = httpx.post(login, json={"email": f"x{user['email']}", "password": user["password"]})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert metric_value(stack["auth"].url, "auth_login_failures_total") == before + 2
    assert httpx.post(login, json={"email": user["email"]}).status_code == 422


def test_rotated_key_set_keeps_old_tokens_valid(stack) -> None:
    user = create_user(stack["users"])
    auth = stack["auth"].url
    credentials = {"email": user["email"], "password": user["password"]}
    old_token = httpx.post(f"{auth}/auth-ms/auth/login", json=credentials).json()["access_token"]
    keyset: Path = stack["keyset"]
    current = json.loads(keyset.read_text())
    write_keyset(keyset.with_suffix(".next"), "newer", [*current["keys"], new_signing_key("newer")])
    keyset.with_suffix(".next").replace(keyset)  # atomic swap, as the kubelet does
    new_token = httpx.post(f"{auth}/auth-ms/auth/login", json=credentials).json()["access_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == "newer"
    jwks = jwt.PyJWKSet.from_dict(httpx.get(f"{auth}/auth-ms/.well-known/jwks.json").json())
    for token in (old_token, new_token):
        kid = jwt.get_unverified_header(token)["kid"]
        claims = jwt.decode(token, jwks[kid].key, algorithms=["EdDSA"], issuer="auth-test", audience=AUDIENCE)
        assert claims["sub"] == str(user["id"])
        # users-ms fetches the rotated key set on the unknown kid and accepts both tokens
        own = httpx.get(f"{stack['users'].url}/users-ms/users/{user['id']}", headers=bearer(token))
        assert own.status_code == 200, own.text


def test_login_works_while_rabbitmq_is_gone(stack, start_service, vhosts, rabbit_credentials) -> None:
    """A dedicated vhost is deleted under auth-ms (the shared RabbitMQ server keeps running)."""
    vhost = vhosts.new("down")
    auth = start_service(
        "auth_service",
        {
            "AUTH_USERS_URL": stack["users"].internal_url,
            "AUTH_JWT_KEYSET_FILE": str(stack["keyset"]),
            "AUTH_RABBITMQ_HOST": rabbit_credentials["host"],
            "AUTH_RABBITMQ_PORT": rabbit_credentials["port"],
            "AUTH_RABBITMQ_VHOST": vhost,
            "AUTH_RABBITMQ_USERNAME_FILE": rabbit_credentials["username_file"],
            "AUTH_RABBITMQ_PASSWORD_FILE": rabbit_credentials["password_file"],
            "AUTH_PUBLISH_TIMEOUT_SECONDS": "2",
        },
    )
    amqp_bind_queue(vhosts.url(vhost), "user_login_event", "probe")
    user = create_user(stack["users"])
    credentials = {"email": user["email"], "password": user["password"]}
    assert httpx.post(f"{auth.url}/auth-ms/auth/login", json=credentials).status_code == 200
    wait_until(lambda: metric_value(auth.url, "auth_events_published_total") == 1, 10, "first event sent")

    vhosts.delete(vhost)  # closes auth-ms's live connection; reconnecting fails from now on
    for _ in range(2):
        response = httpx.post(f"{auth.url}/auth-ms/auth/login", json=credentials)
        assert response.status_code == 200 and response.json()["access_token"]
    wait_until(lambda: metric_value(auth.url, "auth_events_publish_failed_total") == 2, 10, "failure metric")
    assert metric_value(auth.url, "auth_events_published_total") == 1
    assert '"msg": "login event not published"' in auth.log()
    assert credentials["password"] not in auth.log()


def test_users_down_is_503_not_500(start_service, stack) -> None:
    auth = start_service(
        "auth_service",
        {
            "AUTH_USERS_URL": "http://127.0.0.1:9",
            "AUTH_JWT_KEYSET_FILE": str(stack["keyset"]),
            "AUTH_RABBITMQ_HOST": "127.0.0.1",
            "AUTH_RABBITMQ_PORT": "9",
        },
    )
    response = httpx.post(f"{auth.url}/auth-ms/auth/login", json={"email": "a@example.org", "password": "x"})
    assert response.status_code == 503
    assert httpx.get(f"{auth.url}/readyz").status_code == 503

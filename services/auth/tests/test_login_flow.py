"""The whole login flow across real processes: auth-ms (JWT) → users-ms (real PostgreSQL: credential check,
login and its event in the outbox; the relay publishes with confirms through a TCP gate to a real RabbitMQ
vhost) → notifications-ms (the same vhost, SeaweedFS S3)."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import httpx
import jwt
import psycopg
import pytest

from services.conftest import (
    Service,
    bearer,
    metric_value,
    new_signing_key,
    object_keys,
    own_database,
    wait_ready,
    write_keyset,
)
from services.tcp_gate import TcpGate
from tests.fixtures.servers import free_port, wait_until

AUDIENCE = "platform-flow"
MAX_PENDING = 4  # users-ms's outbox bound in this stack


@pytest.fixture(scope="module")
def stack(start_service, postgres_dsn, vhosts, rabbit_credentials, notifications_env, tmp_path_factory):
    with own_database(postgres_dsn, "users_flow") as database:  # the outbox holds this stack's events only
        gate = TcpGate(rabbit_credentials["host"], int(rabbit_credentials["port"])).open()
        services = {"database": database, "gate": gate}
        try:
            services.update(
                _start_stack(
                    start_service, services, vhosts, rabbit_credentials, notifications_env, tmp_path_factory
                )
            )
            yield services
        finally:
            if "users" in services:
                services["users"].stop()  # before its database is dropped
            gate.close()


def _start_stack(start_service, stack, vhosts, rabbit_credentials, notifications_env, tmp_path_factory):
    database, gate = stack["database"], stack["gate"]
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
            **database.env(),
            **{f"USERS_{key}": value for key, value in tokens.items()},
            "USERS_INTERNAL_PORT": str(users_internal_port),
            "USERS_BCRYPT_ROUNDS": "4",
            "USERS_DB_PASSWORD_FILE": str(folder / "db-password"),
            "USERS_RABBITMQ_HOST": "127.0.0.1",
            "USERS_RABBITMQ_PORT": str(gate.port),
            "USERS_RABBITMQ_VHOST": vhost,
            "USERS_RABBITMQ_USERNAME_FILE": rabbit_credentials["username_file"],
            "USERS_RABBITMQ_PASSWORD_FILE": rabbit_credentials["password_file"],
            "USERS_PUBLISH_TIMEOUT_SECONDS": "2",
            "USERS_OUTBOX_MAX_PENDING": str(MAX_PENDING),
            "USERS_OUTBOX_POLL_SECONDS": "0.2",
            "USERS_OUTBOX_RETRY_MAX_SECONDS": "0.5",
        },
    )
    notifications_settings = {f"NOTIFICATIONS_{key}": value for key, value in tokens.items()}
    notifications = start_service(
        "notifications_service", {**notifications_env(vhost, bucket), **notifications_settings}
    )
    wait_ready(notifications.url)  # the queue exists before the first login publishes
    return {
        "users": users,
        "auth": auth,
        "notifications": notifications,
        "bucket": bucket,
        "keyset": keyset,
    }


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
    assert metric_value(stack["users"].url, "users_login_events_published_total") >= 1
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


def outbox_event_ids(database, user_id: int) -> list[str]:
    dsn = psycopg.conninfo.make_conninfo(
        host=database.host, port=database.port, dbname=database.name, user=database.user
    )
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT event_id::text FROM login_outbox WHERE user_id = %s ORDER BY id", (user_id,)
        )
        return [str(row[0]) for row in rows]


def test_broker_outage_loses_no_login_event(stack, s3_client) -> None:
    """RabbitMQ unreachable for users-ms's relay: logins still succeed and their events wait in the
    outbox, up to its bound, beyond which a login is refused with 503 and Retry-After (nothing dropped).
    Reachable again: each waiting event is published once and notifications-ms stores exactly one
    notification per login."""
    users = stack["users"].url
    user = create_user(stack["users"])
    credentials = {"email": user["email"], "password": user["password"]}
    login = f"{stack['auth'].url}/auth-ms/auth/login"
    pending = lambda: metric_value(users, "users_login_events_pending")  # noqa: E731
    wait_until(lambda: pending() == 0, 10, "the earlier tests' events published")
    published = metric_value(users, "users_login_events_published_total")
    failures = metric_value(users, "users_login_events_publish_failures_total")
    prefix = f"users/{user['id']}/"

    stack["gate"].close()  # cuts the relay's connection; reconnecting fails from now on
    try:
        for _ in range(MAX_PENDING):
            response = httpx.post(login, json=credentials)
            assert response.status_code == 200 and response.json()["access_token"], response.text
        wait_until(lambda: pending() == MAX_PENDING, 10, "the logins' events pending")
        wait_until(
            lambda: metric_value(users, "users_login_events_publish_failures_total") > failures,
            10,
            "failures",
        )
        refused = httpx.post(login, json=credentials)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "30", refused.text
        assert metric_value(users, "users_login_events_refused_total") == 1
        assert '"msg": "login refused: the login-event outbox is full"' in stack["users"].log()
        assert not object_keys(s3_client, stack["bucket"], prefix)
    finally:
        stack["gate"].open()

    wait_until(
        lambda: len(object_keys(s3_client, stack["bucket"], prefix)) >= MAX_PENDING, 15, "notifications"
    )
    wait_until(lambda: pending() == 0, 10, "outbox drained")
    assert metric_value(users, "users_login_events_published_total") == published + MAX_PENDING
    events = outbox_event_ids(stack["database"], user["id"])
    assert len(events) == MAX_PENDING, "the refused login left an event"
    time.sleep(1)  # a duplicate would be written within this
    assert sorted(object_keys(s3_client, stack["bucket"], prefix)) == sorted(
        f"{prefix}{e}.json" for e in events
    )
    assert httpx.post(login, json=credentials).status_code == 200, "drained: logins are admitted again"
    assert credentials["password"] not in stack["users"].log() + stack["auth"].log()


def test_users_down_is_503_not_500(start_service, stack) -> None:
    auth = start_service(
        "auth_service",
        {
            "AUTH_USERS_URL": "http://127.0.0.1:9",
            "AUTH_JWT_KEYSET_FILE": str(stack["keyset"]),
        },
    )
    response = httpx.post(f"{auth.url}/auth-ms/auth/login", json={"email": "a@example.org", "password": "x"})
    assert response.status_code == 503
    assert httpx.get(f"{auth.url}/readyz").status_code == 503

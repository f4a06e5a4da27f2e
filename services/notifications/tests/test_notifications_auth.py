"""notifications-ms as a real process: listing needs a token; a user reads their own notifications, an
admin anyone's."""

from __future__ import annotations

import json
import secrets
import uuid

import httpx
import pytest

from services.conftest import amqp_publish, bearer, wait_ready
from tests.fixtures.servers import wait_until


@pytest.fixture(scope="module")
def service(start_service, vhosts, notifications_env):
    vhost = vhosts.new("notif-auth")
    replica = start_service("notifications_service", notifications_env(vhost, f"auth-{secrets.token_hex(4)}"))
    wait_ready(replica.url)
    return {"replica": replica, "url": vhosts.url(vhost)}


@pytest.fixture(scope="module")
def owner(service, token_issuer) -> str:
    """A user with one recorded notification."""
    user_id = secrets.token_hex(4)
    event = {
        "event_id": str(uuid.uuid4()),
        "user_id": user_id,
        "email": f"u{user_id}@example.org",
        "occurred_at": "2026-11-22T03:00:00Z",
        "source_ip": "10.0.0.9",
    }
    amqp_publish(service["url"], "user_login_event", json.dumps(event).encode(), event["event_id"])
    wait_until(
        lambda: len(listing(service, user_id, token_issuer.token(user_id)).json()["items"]) == 1, 10, "sent"
    )
    return user_id


def listing(service, user_id: str, token: str | None) -> httpx.Response:
    url = f"{service['replica'].url}/notifications-ms/notifications"
    return httpx.get(url, params={"user_id": user_id}, headers=bearer(token) if token else {}, timeout=10)


def test_without_a_token_is_401(service, owner) -> None:
    response = listing(service, owner, None)
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    assert owner not in response.text


def test_invalid_token_is_401(service, owner, token_issuer) -> None:
    assert listing(service, owner, token_issuer.token(owner, aud="another-api")).status_code == 401


def test_a_user_reads_their_own_notifications_only(service, owner, token_issuer) -> None:
    assert listing(service, owner, token_issuer.token(owner)).json()["items"][0]["user_id"] == owner
    stranger = token_issuer.token("someone-else")
    refused = listing(service, owner, stranger)
    assert refused.status_code == 403 and owner not in refused.text


def test_an_admin_reads_anyones(service, owner, token_issuer) -> None:
    response = listing(service, owner, token_issuer.token("1", role="admin"))
    assert response.status_code == 200 and len(response.json()["items"]) == 1

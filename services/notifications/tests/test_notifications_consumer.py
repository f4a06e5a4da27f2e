"""notifications-ms as a real process on its own RabbitMQ vhost, writing to SeaweedFS S3."""

from __future__ import annotations

import json
import secrets
import uuid

import httpx
import pytest

from services.conftest import amqp_get, amqp_publish, bearer, metric_value, object_keys, wait_ready
from tests.fixtures.servers import wait_until


def login_event(user_id: str) -> dict[str, str]:
    return {
        "event_id": str(uuid.uuid4()),
        "user_id": user_id,
        "email": f"u{user_id}@example.org",
        "occurred_at": "2026-11-22T03:00:00Z",
        "source_ip": "10.0.0.7",
    }


def consumers_bucket() -> str:
    return f"notif-{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def consumers(start_service, vhosts, notifications_env):
    """Two replicas competing on the same queue (prefetch 2 each)."""
    vhost, bucket = vhosts.new("notif"), consumers_bucket()
    env = {**notifications_env(vhost, bucket), "NOTIFICATIONS_PREFETCH": "2"}
    replicas = [start_service("notifications_service", env) for _ in range(2)]
    for replica in replicas:
        wait_ready(replica.url)
    return {"replicas": replicas, "url": vhosts.url(vhost), "bucket": bucket}


def test_redelivered_event_is_written_once(consumers, s3_client) -> None:
    event = login_event(secrets.token_hex(4))
    body = json.dumps(event).encode()
    for _ in range(2):  # the same event twice, as after a lost ack
        amqp_publish(consumers["url"], "user_login_event", body, event["event_id"])
    marker = f'"event_id": "{event["event_id"]}"'
    logs = lambda: "".join(replica.log() for replica in consumers["replicas"])  # noqa: E731
    wait_until(lambda: logs().count(marker) >= 2, 10, "both deliveries handled")
    handled = [line for line in logs().splitlines() if marker in line]
    assert sum('"msg": "notification sent"' in line for line in handled) == 1, handled
    assert sum('"msg": "duplicate event, already sent"' in line for line in handled) == 1, handled
    keys = object_keys(s3_client, consumers["bucket"], f"users/{event['user_id']}/")
    assert keys == [f"users/{event['user_id']}/{event['event_id']}.json"]
    stored = json.loads(s3_client.get_object(Bucket=consumers["bucket"], Key=keys[0])["Body"].read())
    assert stored["to"] == event["email"] and stored["event_id"] == event["event_id"]


def test_replicas_share_the_queue(consumers, s3_client, token_issuer) -> None:
    user_id = secrets.token_hex(4)
    events = [login_event(user_id) for _ in range(12)]
    for event in events:
        amqp_publish(consumers["url"], "user_login_event", json.dumps(event).encode(), event["event_id"])
    prefix = f"users/{user_id}/"
    wait_until(lambda: len(object_keys(s3_client, consumers["bucket"], prefix)) == 12, 15, "12 notifications")
    handled = [sum(replica.log().count(e["event_id"]) for e in events) for replica in consumers["replicas"]]
    assert all(count > 0 for count in handled), f"one replica did all the work: {handled}"
    listed = httpx.get(
        f"{consumers['replicas'][0].url}/notifications-ms/notifications",
        params={"user_id": user_id, "limit": 200},
        headers=bearer(token_issuer.token(user_id)),
    ).json()["items"]
    assert sorted(item["event_id"] for item in listed) == sorted(e["event_id"] for e in events)


def test_poison_message_goes_to_the_dead_letter_queue(consumers) -> None:
    marker = secrets.token_hex(8)
    amqp_publish(consumers["url"], "user_login_event", f"not an event {marker}".encode(), marker)
    found: list[bytes] = []

    def dead_lettered() -> bool:
        message = amqp_get(consumers["url"], "login_email_notification.dlq")
        if message is not None:
            found.append(message.body)
        return any(marker.encode() in body for body in found)

    wait_until(dead_lettered, 10, "poison message in login_email_notification.dlq")
    total = sum(metric_value(r.url, "notifications_dead_lettered_total") for r in consumers["replicas"])
    assert total >= 1


def test_failing_store_dead_letters_after_max_deliveries(start_service, vhosts, notifications_env, tmp_path):
    """The store refuses every write (wrong secret key): the message is retried, then dead-lettered."""
    vhost = vhosts.new("retry")
    (tmp_path / "wrong-secret").write_text(secrets.token_urlsafe(24))
    env = {
        **notifications_env(vhost, consumers_bucket()),
        "NOTIFICATIONS_S3_CREATE_BUCKET": "false",
        "NOTIFICATIONS_S3_SECRET_KEY_FILE": str(tmp_path / "wrong-secret"),
        "NOTIFICATIONS_MAX_DELIVERIES": "3",
    }
    replica = start_service("notifications_service", env)
    wait_until(lambda: '"msg": "consuming"' in replica.log(), 20, "consumer")
    event = login_event(secrets.token_hex(4))
    amqp_publish(vhosts.url(vhost), "user_login_event", json.dumps(event).encode(), event["event_id"])
    holder: list[object] = []
    wait_until(
        lambda: bool(
            holder.append(amqp_get(vhosts.url(vhost), "login_email_notification.dlq")) or any(holder)
        ),
        20,
        "event in the dead-letter queue",
    )
    message = next(m for m in holder if m is not None)
    assert json.loads(message.body)["event_id"] == event["event_id"]  # type: ignore[attr-defined]
    assert metric_value(replica.url, "notifications_failures_total") == 3
    assert metric_value(replica.url, "notifications_dead_lettered_total") == 1
    assert httpx.get(f"{replica.url}/readyz").status_code == 503


def test_bad_query_is_422(consumers, token_issuer) -> None:
    url = f"{consumers['replicas'][0].url}/notifications-ms/notifications"
    admin = bearer(token_issuer.token("1", role="admin"))
    assert httpx.get(url, headers=admin).status_code == 422
    assert httpx.get(url, params={"user_id": "../etc"}, headers=admin).status_code == 422

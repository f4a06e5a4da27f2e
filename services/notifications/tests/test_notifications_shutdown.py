"""SIGTERM while a message is being handled: the notification is finished and acked before exit."""

from __future__ import annotations

import json
import secrets
import signal
import socket
import threading
import urllib.parse
import uuid
from collections.abc import Iterator

import pytest

from services.conftest import amqp_get, amqp_publish, object_keys
from tests.fixtures.servers import wait_until

DELAY_SECONDS = 1.5


class SlowProxy:
    """A real TCP relay to the S3 server that, once armed, holds each client chunk for a moment:
    the only way to keep a store write in flight long enough to signal the process meanwhile."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.armed = threading.Event()
        self.delayed = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, slow: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if slow and self.armed.is_set():
                    self.delayed.set()
                    threading.Event().wait(DELAY_SECONDS)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                sock.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def slow_s3(s3_server) -> Iterator[SlowProxy]:
    endpoint = urllib.parse.urlsplit(s3_server.endpoint)
    proxy = SlowProxy((endpoint.hostname or "127.0.0.1", endpoint.port or 80))
    yield proxy
    proxy.close()


def test_sigterm_finishes_the_message_in_flight(start_service, vhosts, notifications_env, slow_s3, s3_client):
    vhost, bucket = vhosts.new("term"), f"term-{secrets.token_hex(4)}"
    env = {
        **notifications_env(vhost, bucket),
        "NOTIFICATIONS_S3_ENDPOINT": f"http://127.0.0.1:{slow_s3.port}",
    }
    replica = start_service("notifications_service", env)
    wait_until(lambda: '"msg": "consuming"' in replica.log(), 20, "consumer")
    event = {
        "event_id": str(uuid.uuid4()),
        "user_id": "77",
        "email": "u77@example.org",
        "occurred_at": "2026-11-22T03:00:00Z",
        "source_ip": "10.0.0.8",
    }
    slow_s3.armed.set()
    amqp_publish(vhosts.url(vhost), "user_login_event", json.dumps(event).encode(), event["event_id"])
    wait_until(slow_s3.delayed.is_set, 10, "store write in flight")
    replica.proc.send_signal(signal.SIGTERM)
    assert replica.proc.wait(timeout=30) in (0, -signal.SIGTERM)
    assert object_keys(s3_client, bucket, "users/77/") == [f"users/77/{event['event_id']}.json"]
    assert amqp_get(vhosts.url(vhost), "login_email_notification") is None  # acked, not left for redelivery
    log = replica.log()
    assert log.index('"msg": "Shutting down"') < log.index('"msg": "notification sent"')

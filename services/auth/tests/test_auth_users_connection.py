"""auth-ms asks users-ms over a fresh connection for every login, so that a users-ms pod that closes its idle
connections when it stops (rolling update, pod deletion) never turns a login into a 503.

The e2e run deleted a users and an auth pod under load and one login of 43 got 503: auth-ms had reused a
kept-alive connection that the stopping users-ms had just closed. That race cannot be timed with the real
service, so a STAND-IN for users-ms's credential check (a raw socket server, below) does on purpose what a
stopping uvicorn may do: it answers the first request on a connection and closes the connection when the
next request arrives on it, without answering. The auth-ms under test is the real one."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from services.conftest import new_signing_key, write_keyset

USER = {"user_id": 7, "email": "ada@example.org", "role": "user"}


class ClosingUsers:
    """Answers one request per connection, then closes it when a second request comes on it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    @staticmethod
    def _read_request(conn: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        while len(body) < length:
            body += conn.recv(65536)
        return True

    def _one(self, conn: socket.socket) -> None:
        with conn:
            if not self._read_request(conn):
                return
            payload = json.dumps(USER).encode()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            self._read_request(conn)  # a second request on this connection: closed without an answer

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def closing_users() -> Iterator[ClosingUsers]:
    server = ClosingUsers()
    yield server
    server.close()


def test_every_login_gets_its_own_connection_to_users(start_service, closing_users, tmp_path) -> None:
    keyset = write_keyset(tmp_path / "keyset.json", "k", [new_signing_key("k")])
    auth = start_service(
        "auth_service",
        {"AUTH_USERS_URL": closing_users.url, "AUTH_JWT_KEYSET_FILE": str(keyset)},
    )
    body = {"email": USER["email"], "password": "whatever-the-stand-in-accepts"}
    statuses = [
        httpx.post(f"{auth.url}/auth-ms/auth/login", json=body, timeout=10).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 200]
    assert closing_users.connections == 4

"""users-ms as real processes: the `users-migrate` command and graceful SIGTERM during a request."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.fixtures.servers import wait_until


def run_migrate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = shutil.which("users-migrate", path=os.path.dirname(sys.executable)) or "users-migrate"
    return subprocess.run([command], env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


@pytest.fixture
def empty_database(postgres_dsn):
    name = f"users_migrate_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_users_migrate_applies_each_version_once(empty_database, users_database, postgres_dsn) -> None:
    env = {**users_database.env(), "USERS_DB_NAME": empty_database}
    first = run_migrate(env)
    assert first.returncode == 0, first.stdout + first.stderr
    applied = json.loads(first.stdout.splitlines()[-1])["applied"]
    assert applied == [
        "0001_create_users",
        "0002_name_indexes",
        "0003_user_role",
        "0004_canonical_emails",
        "0005_login_outbox",
    ]
    second = run_migrate(env)
    assert second.returncode == 0 and json.loads(second.stdout.splitlines()[-1])["applied"] == []
    with psycopg.connect(psycopg.conninfo.make_conninfo(postgres_dsn, dbname=empty_database)) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (5,)
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)


def test_users_migrate_bad_secret_file_is_one_clear_line(users_database, tmp_path) -> None:
    result = run_migrate({**users_database.env(), "USERS_DB_PASSWORD_FILE": str(tmp_path / "absent")})
    assert result.returncode == 1
    line = json.loads(result.stdout.strip())
    assert "USERS_DB_PASSWORD_FILE" in line["msg"] and "absent" in line["msg"]


def test_sigterm_during_a_request_completes_it(start_service, users_database) -> None:
    """bcrypt cost 15 makes the create request take seconds; SIGTERM arrives while it runs."""
    service = start_service("users_service", {**users_database.env(), "USERS_BCRYPT_ROUNDS": "15"})
    body = {
        "name": "Slow",
        "surname": "Request",
        "email": f"slow.{secrets.token_hex(4)}@example.org",
        "password": secrets.token_urlsafe(12),
    }
    result: dict[str, httpx.Response] = {}
    worker = threading.Thread(
        target=lambda: result.update(
            response=httpx.post(f"{service.url}/users-ms/users", json=body, timeout=120)
        )
    )
    worker.start()
    wait_until(hashing(service.proc.pid), 10, "request in progress")
    service.proc.send_signal(signal.SIGTERM)
    worker.join(timeout=120)
    assert result["response"].status_code == 201, result["response"].text
    # uvicorn re-raises the captured SIGTERM once it has shut down cleanly.
    assert service.proc.wait(timeout=30) in (0, -signal.SIGTERM)
    log = service.log()
    marks = ('"msg": "Shutting down"', '"status": 201', "Finished server process")
    order = [log.index(mark) for mark in marks]
    assert order == sorted(order)


def hashing(pid: int):
    """A check that is true once the process burns CPU steadily (bcrypt running), read from /proc."""
    samples: list[int] = []

    def check() -> bool:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        samples.append(int(fields[11]) + int(fields[12]))  # utime + stime, in clock ticks
        time.sleep(0.05)
        return len(samples) > 3 and samples[-1] - samples[-4] >= 10

    return check

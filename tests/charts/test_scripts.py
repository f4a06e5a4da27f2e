"""The shell scripts the charts ship, run for real: RabbitMQ's init container against a scratch directory
(the rendered ConfigMap), PostgreSQL's bootstrap against the machine's PostgreSQL."""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess

import psycopg
import pytest
from platformctl.adapters.tools import find_tool

from tools.charts import render

SCRIPTS = [
    render.CHARTS / "rabbitmq" / "files" / "prepare.sh",
    render.CHARTS / "postgresql" / "files" / "init-users.sh",
]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck(script):
    proc = subprocess.run(
        [str(find_tool("shellcheck")), str(script)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout


def _configmap(rendered, rel: str, env: str) -> dict[str, str]:
    return next(o for o in rendered[(rel, env)] if o["kind"] == "ConfigMap")["data"]


def test_rabbitmq_prepare_builds_definitions_and_cookie(rendered, tmp_path):
    config, etc, data, secret = (tmp_path / d for d in ("config", "etc", "data", "secret"))
    for d in (config, etc, data, secret):
        d.mkdir()
    for name, body in _configmap(rendered, "rabbitmq", "prod").items():
        (config / name).write_text(body)
    password = 'p"a\\s&s' + secrets.token_hex(8)  # quote, backslash and & must survive
    (secret / "username").write_text("app")
    (secret / "password").write_text(password)
    (secret / "erlang-cookie").write_text("COOKIE" + secrets.token_hex(8))
    env = {
        **os.environ,
        "CONFIG_DIR": str(config),
        "ETC_DIR": str(etc),
        "DATA_DIR": str(data),
        "SECRET_DIR": str(secret),
        "DELIVERY_LIMIT": "5",
    }
    subprocess.run(["bash", str(config / "prepare.sh")], env=env, check=True, timeout=30)

    defs = json.loads((etc / "definitions.json").read_text())
    assert defs["users"][0] == {"name": "app", "password": password, "tags": ["administrator"]}
    queues = {q["name"]: q["arguments"] for q in defs["queues"]}
    assert queues["login_email_notification"] == {
        "x-queue-type": "quorum",
        "x-delivery-limit": 5,
        "x-dead-letter-exchange": "user_login_event.dlx",
    }
    assert queues["login_email_notification.dlq"] == {"x-queue-type": "quorum"}
    exchanges = {e["name"]: (e["type"], e["durable"]) for e in defs["exchanges"]}
    assert exchanges == {"user_login_event": ("fanout", True), "user_login_event.dlx": ("fanout", True)}
    bindings = {(b["source"], b["destination"]) for b in defs["bindings"]}
    assert bindings == {
        ("user_login_event", "login_email_notification"),
        ("user_login_event.dlx", "login_email_notification.dlq"),
    }
    cookie = data / ".erlang.cookie"
    assert stat.S_IMODE(cookie.stat().st_mode) == 0o400
    assert "load_definitions = /etc/rabbitmq/definitions.json" in (etc / "rabbitmq.conf").read_text()


def test_rabbitmq_cluster_config_only_with_replicas(rendered):
    assert "peer_discovery_backend = k8s" in _configmap(rendered, "rabbitmq", "prod")["rabbitmq.conf"]
    assert "peer_discovery" not in _configmap(rendered, "rabbitmq", "dev")["rabbitmq.conf"]


def test_postgres_bootstrap_creates_role_and_database(rendered, postgres_dsn, tmp_path):
    script = tmp_path / "init-users.sh"
    script.write_text(_configmap(rendered, "postgresql", "dev")["init-users.sh"])
    name = f"charts_test_{secrets.token_hex(4)}"
    password_file = tmp_path / "users-password"
    password_file.write_text("pw'" + secrets.token_hex(8))  # a quote must not break the SQL
    env = {
        **os.environ,
        "POSTGRES_USER": "postgres",
        "PGHOST": "127.0.0.1",
        "PGPORT": "5432",
        "BOOTSTRAP_DATABASE": name,
        "BOOTSTRAP_USER": name,
        "USERS_PASSWORD_FILE": str(password_file),
    }
    try:
        subprocess.run(["bash", str(script)], env=env, check=True, capture_output=True, timeout=60)
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            owner = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            role = conn.execute(
                "SELECT rolcanlogin, rolpassword IS NOT NULL FROM pg_authid WHERE rolname = %s", (name,)
            ).fetchone()
        assert owner == (name,)
        assert role == (True, True)
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')

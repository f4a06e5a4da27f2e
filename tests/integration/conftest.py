"""Fixtures shared by the platformctl integration tests (servers come from tests/fixtures/servers.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import hvac
import psycopg
import pytest
from platformctl.adapters.vault import Vault, connect
from platformctl.app import vault_dev
from platformctl.config import secret_map
from platformctl.config.secret_map import SecretMap
from psycopg import sql

from tests.fixtures.servers import S3Server, seaweedfs
from tools.fake_kube import FakeKubeAPI, running_fake


@pytest.fixture(scope="session")
def smap() -> SecretMap:
    return secret_map.load()


@pytest.fixture
def env_name() -> str:
    """A fresh environment name per test: each test gets its own kv/<env>/ subtree."""
    return "t" + secrets.token_hex(4)


@pytest.fixture
def root_vault(vault_server, smap: SecretMap, env_name: str) -> Vault:
    """The root token's client on the `kv` mount (enabled once), for a test-private env."""
    vault = connect(
        env_name, smap.mount, environ={"VAULT_ADDR": vault_server.addr, "VAULT_TOKEN": vault_server.token}
    )
    vault_dev.enable_kv(vault)
    return vault


@pytest.fixture
def seeded(root_vault: Vault, smap: SecretMap) -> Vault:
    vault_dev.seed(root_vault, smap)
    return root_vault


@pytest.fixture
def fake_kube(tmp_path: Path) -> Iterator[tuple[FakeKubeAPI, Path]]:
    with running_fake(tmp_path) as pair:
        yield pair


def root_client(vault_server) -> hvac.Client:
    return hvac.Client(url=vault_server.addr, token=vault_server.token)


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run `platformctl ARGV` in-process; return (exit code, stdout, stderr) including the error line."""
    import io

    from platformctl import cli
    from platformctl.context import Context

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        monkeypatch.setattr(cli, "Context", lambda: Context(out=out, err=err))
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return code, out.getvalue() + captured.out, err.getvalue() + captured.err

    return run


@pytest.fixture
def pg_role(postgres_dsn: str) -> Iterator[str]:
    """A throw-away LOGIN role in the machine's PostgreSQL, dropped afterwards."""
    role = "rot_" + secrets.token_hex(4)
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    yield role
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


# --- RabbitMQ management API and a SeaweedFS with its IAM API (rotation of RabbitMQ / S3 credentials) ---

RABBITMQ_API = "http://127.0.0.1:15672"


def _api_answers() -> bool:
    import httpx

    try:
        return httpx.get(f"{RABBITMQ_API}/api/whoami", auth=("guest", "guest"), timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def rabbitmq_api(rabbitmq_url: str) -> str:
    """The machine RabbitMQ's management API; enables the plugin (needs root) and leaves it enabled."""
    import subprocess

    from tests.fixtures.servers import wait_until

    if not _api_answers():
        subprocess.run(
            ["rabbitmq-plugins", "enable", "rabbitmq_management"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        wait_until(_api_answers, 60, "RabbitMQ management API")
    return RABBITMQ_API


@pytest.fixture
def rabbit_user(rabbitmq_api: str) -> Iterator[tuple[str, str]]:
    """A throw-away RabbitMQ user (no tags, all rights on `/`) made via the API as guest; deleted after."""
    import httpx

    user, password = "rot_" + secrets.token_hex(4), secrets.token_urlsafe(16)
    with httpx.Client(base_url=rabbitmq_api, auth=("guest", "guest"), timeout=10) as api:
        api.put(f"/api/users/{user}", json={"password": password, "tags": ""}).raise_for_status()
        rights = {"configure": ".*", "write": ".*", "read": ".*"}
        api.put(f"/api/permissions/%2F/{user}", json=rights).raise_for_status()
        yield user, password
        api.delete(f"/api/users/{user}")


@pytest.fixture(scope="session")
def iam_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A SeaweedFS of this suite's own whose S3 port also serves the IAM API (writes allowed)."""
    with seaweedfs(tmp_path_factory.mktemp("weed-iam"), iam_writes=True, prefix="adm") as server:
        yield server

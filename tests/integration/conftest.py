"""Fixtures shared by the platformctl integration tests (servers come from tests/fixtures/servers.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import hvac
import psycopg
import pytest
from platformctl import secret_map, vault_dev
from platformctl.secret_map import SecretMap
from platformctl.vault import Vault, connect
from psycopg import sql

from tests.integration.fake_kube import FakeKubeAPI, running_fake


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

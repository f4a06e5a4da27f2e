"""Fixtures shared by the platformctl integration tests (servers come from tests/fixtures/servers.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class IamS3:
    """A SeaweedFS of this module's own whose S3 port also serves the IAM API (writes allowed)."""

    endpoint: str
    access_key: str
    secret_key: str


def _weed_args(weed: str, workdir: Path, s3_config: Path) -> tuple[list[str], str]:
    from tests.fixtures.servers import free_port

    port = {name: free_port() for name in ("m", "mg", "v", "vg", "f", "fg", "s", "sg")}
    args = [
        weed, "server", f"-dir={workdir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-volume.max=4",
        f"-master.port={port['m']}", f"-master.port.grpc={port['mg']}",
        f"-volume.port={port['v']}", f"-volume.port.grpc={port['vg']}",
        "-filer", f"-filer.port={port['f']}", f"-filer.port.grpc={port['fg']}",
        "-s3", f"-s3.port={port['s']}", f"-s3.port.grpc={port['sg']}", "-s3.port.iceberg=0",
        "-s3.port.lance=0", f"-s3.config={s3_config}", "-s3.iam.readOnly=false", "-metricsPort=0",
    ]  # fmt: skip
    return args, f"http://127.0.0.1:{port['s']}"


@pytest.fixture(scope="session")
def iam_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IamS3]:
    import json
    import subprocess

    import httpx
    from platformctl.tools import find_tool

    from tests.fixtures.servers import wait_until

    workdir = tmp_path_factory.mktemp("weed-iam")
    admin = IamS3("", "adm" + secrets.token_hex(6), secrets.token_urlsafe(24))
    s3_config = workdir / "identities.json"
    s3_config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "admin",
                        "credentials": [{"accessKey": admin.access_key, "secretKey": admin.secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    args, endpoint = _weed_args(str(find_tool("weed")), workdir, s3_config)
    with (workdir / "weed.log").open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    def answers() -> bool:
        try:
            return httpx.get(endpoint, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, 60, "SeaweedFS with IAM")
        yield IamS3(endpoint, admin.access_key, admin.secret_key)
    finally:
        proc.terminate()  # stopped by its own PID; weed may linger in shutdown, a throw-away dir
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

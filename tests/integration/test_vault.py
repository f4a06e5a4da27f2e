"""vault.py against a real OpenBao dev server: the values it reads must be strings, what answers at
VAULT_ADDR must be a Vault, the secret map's mount must be KV version 2; each problem is its own one-line
VaultError (exit 4)."""

from __future__ import annotations

import http.server
import secrets
import threading
from collections.abc import Iterator

import pytest
from platformctl.adapters.vault import Vault, connect
from platformctl.app import values
from platformctl.config import release
from platformctl.errors import VaultError

from tests.integration.conftest import root_client
from tests.integration.test_values import FIXTURES

NOT_STRINGS = {
    "a list": ["first-item-sentinel", "second"],
    "a map": {"nested": "map-sentinel"},
    "a number": 8675309,
    "a boolean": True,
    "null": None,
}


@pytest.mark.parametrize("kind", sorted(NOT_STRINGS))
def test_a_value_that_is_not_a_string_is_refused_naming_path_and_key(seeded, vault_server, smap, kind):
    """Written through the HTTP API as JSON (the `bao kv` CLI writes strings only); before, the Python text
    of the value (`None`, `['…']`) went into the Secret and the checksums."""
    wrong = NOT_STRINGS[kind]
    data = {**seeded.read("postgresql").data, "users-password": wrong}
    root_client(vault_server).secrets.kv.v2.create_or_update_secret(
        path=f"{seeded.env}/postgresql", secret=data, mount_point=seeded.mount
    )
    with pytest.raises(VaultError) as caught:
        seeded.read("postgresql")
    message = str(caught.value)
    assert message.startswith(
        f"Vault secret kv/{seeded.env}/postgresql key 'users-password' holds {kind}, not a string;"
    )
    assert f"bao kv patch -mount=kv {seeded.env}/postgresql users-password=<value>" in message
    assert "\n" not in message and "sentinel" not in message and "8675309" not in message
    assert caught.value.exit_code == 4
    releases = [
        release.Release("users", "apps", "charts/demo", ("values/generated/dev/users.yaml",)),
    ]
    with pytest.raises(VaultError, match="users-password' holds"):  # values reads it the same way
        seeded.read_many(values.needed_paths(smap, releases))


@pytest.fixture
def kv1_mount(vault_server) -> Iterator[str]:
    """A KV version 1 engine on a mount of its own (the session's `kv` mount stays v2)."""
    mount = "kvone" + secrets.token_hex(3)
    client = root_client(vault_server)
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    yield mount
    client.sys.disable_secrets_engine(mount)


def test_a_kv_version_1_mount_is_named_as_such_with_the_fix(vault_server, kv1_mount, env_name):
    """Before, connect passed and every read said "secret ... does not exist"."""
    environ = {"VAULT_ADDR": vault_server.addr, "VAULT_TOKEN": vault_server.token}
    with pytest.raises(VaultError) as caught:
        connect(env_name, kv1_mount, environ=environ).read("postgresql")
    message = str(caught.value)
    assert message.startswith(f"Vault mount {kv1_mount}/ at {vault_server.addr} is KV version 1;")
    assert f"`bao kv enable-versioning {kv1_mount}`" in message
    assert f"`bao secrets enable -version=2 -path={kv1_mount} kv`" in message
    assert "does not exist" not in message and caught.value.exit_code == 4


def test_a_kv_version_2_mount_and_a_missing_mount_still_connect(root_vault: Vault, vault_server, env_name):
    environ = {"VAULT_ADDR": vault_server.addr, "VAULT_TOKEN": vault_server.token}
    assert connect(env_name, root_vault.mount, environ=environ).mount == "kv"
    missing = connect(env_name, "nomount" + secrets.token_hex(3), environ=environ)  # vault dev enables it
    with pytest.raises(VaultError, match="does not exist"):
        missing.read("postgresql")


PAGE = b"<!DOCTYPE html><html><body><h1>Welcome to the intranet</h1>" + b"<p>filler</p>" * 200 + b"</html>"


class _NotVault(http.server.BaseHTTPRequestHandler):
    """A web server that is not Vault: an HTML page for every path, or 404 (HTML) for /v1/..."""

    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    do_POST = do_PUT = do_GET

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture(params=[200, 404])
def not_vault(request) -> Iterator[tuple[str, int]]:
    """A real http.server on a free loopback port answering every request with `status` and HTML."""
    handler = type("Handler", (_NotVault,), {"status": request.param})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", request.param
    finally:
        server.shutdown()
        server.server_close()


def test_a_web_server_that_is_not_vault_gets_its_own_message(not_vault):
    """Before: exit 1 with the whole HTML page (404), or "unreachable" (200 with HTML)."""
    addr, status = not_vault
    with pytest.raises(VaultError) as caught:
        connect("dev", environ={"VAULT_ADDR": addr, "VAULT_TOKEN": "x"})
    message = str(caught.value)
    assert message == (
        f"VAULT_ADDR ({addr}) does not answer like Vault/OpenBao: GET /v1/sys/health gave HTTP {status} "
        "(text/html, no Vault health status); set VAULT_ADDR to the Vault server's API address (scheme, "
        "host and port, e.g. http://127.0.0.1:8200)"
    )
    assert caught.value.exit_code == 4


def test_the_cli_prints_one_line_and_exits_4_for_a_web_server(run_cli, not_vault, monkeypatch):
    addr, _ = not_vault
    monkeypatch.setenv("VAULT_ADDR", addr)
    monkeypatch.setenv("VAULT_TOKEN", "x")
    code, _, err = run_cli("values", "--releases", str(FIXTURES / "releases.json"))
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 4 and len(lines) == 1
    assert lines[0].startswith(f"error: VAULT_ADDR ({addr}) does not answer like Vault/OpenBao")
    assert "<html" not in err.lower()  # the page never reaches the terminal


def test_exists_tells_a_missing_entry_from_a_refused_read(seeded, vault_server):
    """`exists` is False only for an entry that is not there (its own exception, not a match on the
    message); a token that may not read the path still gets the 403 error."""
    assert seeded.exists("postgresql") is True
    assert seeded.exists("never-written") is False
    client = root_client(vault_server)
    policy = f'path "{seeded.mount}/data/{seeded.env}/postgresql" {{ capabilities = ["read"] }}'
    client.sys.create_or_update_policy(name="read-postgresql-only", policy=policy)
    token = client.auth.token.create(policies=["read-postgresql-only"], ttl="5m")["auth"]["client_token"]
    limited = Vault(
        type(client)(url=vault_server.addr, token=token), vault_server.addr, seeded.mount, seeded.env, "token"
    )
    assert limited.exists("postgresql") is True
    with pytest.raises(VaultError, match=r"denied read .* \(HTTP 403\)"):
        limited.exists("rabbitmq")


def test_a_fresh_kv_mount_is_ready_when_enable_kv_returns(root_vault: Vault, vault_server):
    """Right after mounting KV v2, OpenBao answers reads with 400 for a moment (its upgrade step); the first
    `exists` of a new dev Vault failed so once in CI. enable_kv waits until the mount serves reads."""
    from platformctl.app import vault_dev

    for _ in range(3):  # each round a new mount, read at once
        mount = "kv" + secrets.token_hex(4)
        fresh = Vault(root_client(vault_server), vault_server.addr, mount, "dev", "token")
        vault_dev.enable_kv(fresh)
        assert fresh.exists("postgresql") is False
        fresh.write("postgresql", {"k": "v"}, cas=0)
        assert fresh.exists("postgresql") is True

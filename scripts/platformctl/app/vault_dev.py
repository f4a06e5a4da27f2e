"""`platformctl vault dev`: a local OpenBao dev server (Vault API) with seeded random secrets for dev."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from platformctl.adapters import atomic
from platformctl.adapters.net import free_port
from platformctl.adapters.tools import find_tool
from platformctl.adapters.vault import Vault, connect
from platformctl.app import jwtkeys
from platformctl.config.secret_map import SecretMap
from platformctl.errors import VaultError


def generate(generator: str) -> str:
    """A fresh value for one declared key (see values/secrets-map.yaml, `vault:`)."""
    if generator.startswith("fixed:"):
        return generator.removeprefix("fixed:")
    if generator == "jwt-keyset":
        return jwtkeys.new_keyset()
    return jwtkeys.new_password()


def seed(vault: Vault, secret_map: SecretMap) -> list[str]:
    """Write every declared path that does not exist yet; existing secrets are kept (idempotent)."""
    written = []
    for component, keys in sorted(secret_map.vault.items()):
        if not vault.exists(component):
            vault.write(component, {key: generate(gen) for key, gen in keys.items()}, cas=0)
            written.append(component)
    return written


def _healthy(addr: str) -> bool:
    try:
        with urllib.request.urlopen(f"{addr}/v1/sys/health", timeout=1) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _is_ours(pid: int) -> bool:
    """True when `pid` is still a bao/vault dev server (a recycled PID must never be signalled)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"server" in cmdline and b"-dev" in cmdline


def running(state: Path) -> dict[str, object] | None:
    try:
        saved = json.loads(state.read_text())
    except (OSError, ValueError):
        return None
    if _is_ours(int(saved.get("pid", 0))) and _healthy(str(saved.get("address"))):
        return dict(saved)
    return None


def _write_state(state: Path, data: dict[str, object]) -> None:
    atomic.write_file(state, json.dumps(data).encode(), mode=0o600)


def start(state: Path, timeout: float = 30) -> dict[str, object]:
    """Start `bao server -dev` detached on a free loopback port; the root token travels by environment."""
    bao = find_tool("bao")
    addr = f"http://127.0.0.1:{free_port()}"
    token = secrets.token_urlsafe(24)
    state.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BAO_DEV_ROOT_TOKEN_ID": token, "HOME": str(state.parent)}
    # The dev server prints its root token and unseal key on stdout: that goes nowhere. Its log lines
    # (stderr) go to a 0600 file for debugging.
    log_fd = os.open(state.parent / "vault-dev.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(log_fd, "ab") as log:
        proc = subprocess.Popen(
            [
                str(bao),
                "server",
                "-dev",
                f"-dev-listen-address={addr.removeprefix('http://')}",
                "-dev-no-store-token",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
            cwd=state.parent,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while not _healthy(addr):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise VaultError(f"the dev Vault did not start; see {state.parent / 'vault-dev.log'}")
        time.sleep(0.1)
    data: dict[str, object] = {"address": addr, "token": token, "pid": proc.pid}
    _write_state(state, data)
    return data


KV_READY_SECONDS = 15.0  # a new KV v2 mount upgrades itself first and answers 400 meanwhile


def enable_kv(vault: Vault, ready_within: float = KV_READY_SECONDS) -> None:
    """Mount KV v2 at the secret map's mount when it is not there, and wait until it serves reads: right
    after the mount, reads fail for a moment ("upgrading ... unavailable for a brief period", HTTP 400),
    which made the first `exists` of a fresh dev Vault fail."""
    mounts = vault.client.sys.list_mounted_secrets_engines()["data"]  # type: ignore[no-untyped-call]
    if f"{vault.mount}/" in mounts:
        return
    vault.client.sys.enable_secrets_engine("kv", path=vault.mount, options={"version": "2"})
    deadline = time.monotonic() + ready_within
    while True:
        try:
            vault.exists("platformctl-readiness-probe")  # a path nobody writes: missing means ready
            return
        except VaultError:
            if time.monotonic() > deadline:
                raise VaultError(
                    f"the new KV mount {vault.mount}/ of the dev Vault at {vault.addr} did not serve reads "
                    f"within {ready_within:.0f}s; stop it (`platformctl vault dev --stop`) and retry"
                ) from None
            time.sleep(0.2)


def up(state: Path, secret_map: SecretMap) -> tuple[dict[str, object], list[str]]:
    """Reuse a running dev server or start one, then seed dev's secrets; returns (state, seeded paths)."""
    data = running(state) or start(state)
    vault = connect("dev", secret_map.mount, environ={}, state=state)
    enable_kv(vault)
    return data, seed(vault, secret_map)


def stop(state: Path) -> bool:
    """Stop the dev server by its PID; False when none was running."""
    try:
        pid = int(json.loads(state.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return False
    stopped = False
    if _is_ours(pid):
        os.kill(pid, signal.SIGTERM)
        stopped = True
    state.unlink(missing_ok=True)
    return stopped

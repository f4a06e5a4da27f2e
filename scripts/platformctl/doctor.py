"""`platformctl doctor`: what this machine has, what the repository needs, and what is reachable."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from platformctl.context import Context, render_table
from platformctl.toolchain import ToolStatus, status
from platformctl.versions import Versions


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def vault_check(addr: str | None) -> Check:
    """Reachability only (sys/health answers without a token); auth is checked by the Vault verbs."""
    if not addr:
        return Check("vault", True, "VAULT_ADDR not set (dev uses `platformctl vault dev`)")
    try:
        with urllib.request.urlopen(f"{addr.rstrip('/')}/v1/sys/health", timeout=3) as response:  # noqa: S310
            return Check("vault", True, f"{addr} reachable (HTTP {response.status})")
    except urllib.error.HTTPError as exc:  # 429/472/473/501/503 still mean "a Vault answered"
        state = {503: "sealed", 501: "not initialised"}.get(exc.code, f"HTTP {exc.code}")
        return Check("vault", exc.code not in (501, 503), f"{addr} answered: {state}")
    except (OSError, ValueError) as exc:
        return Check("vault", False, f"{addr} unreachable ({exc})")


def kube_check() -> Check:
    """The current kube context (no API call: doctor must be fast and work without a cluster)."""
    from kubernetes import config  # imported here: slow import, only doctor needs it

    try:
        _, current = config.list_kube_config_contexts()
    except (config.ConfigException, OSError, TypeError) as exc:
        return Check("kube context", True, f"none ({str(exc).splitlines()[0]})")
    return Check(
        "kube context", True, f"{current['name']} (cluster {current['context'].get('cluster', '?')})"
    )


def vault_auth_check(env: str) -> Check:
    """Log in the way the Vault verbs do (env token, AppRole, dev state file) and look the token up."""
    from platformctl import vault
    from platformctl.errors import VaultError

    if not os.environ.get("VAULT_ADDR") and not vault.state_file().is_file():
        return Check("vault auth", True, "not configured (dev: `platformctl vault dev`)")
    try:
        client = vault.connect(env)
    except VaultError as exc:
        return Check("vault auth", False, str(exc))
    return Check("vault auth", True, f"{client.method} login ok at {client.addr}")


def kube_api_check(env: str) -> Check:
    """The env's kube context exists, is current, and its API server answers."""
    from platformctl import kube
    from platformctl.errors import KubernetesError

    try:
        client = kube.api_client(env)
    except KubernetesError as exc:
        return Check("kube API", True, f"not checked: {exc}")
    try:
        return Check("kube API", True, f"reachable ({kube.reachable(client)})")
    except KubernetesError as exc:
        return Check("kube API", False, str(exc))


def run(ctx: Context, versions: Versions) -> int:
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses: list[ToolStatus] = list(pool.map(lambda item: status(*item), versions.tools.items()))
    rows = [
        [
            s.name,
            "yes" if s.path else "MISSING",
            s.version or "-",
            s.required,
            "ok" if s.ok else "FAIL",
            str(s.path or "-"),
        ]
        for s in statuses
    ]
    ctx.say(render_table(["tool", "found", "version", "required", "status", "path"], rows))
    checks = [
        vault_check(os.environ.get("VAULT_ADDR")),
        vault_auth_check(ctx.env),
        kube_check(),
        kube_api_check(ctx.env),
    ]
    ctx.say("")
    ctx.say(
        render_table(
            ["check", "status", "detail"], [[c.name, "ok" if c.ok else "FAIL", c.detail] for c in checks]
        )
    )
    failed = [s.name for s in statuses if not s.ok]
    if failed:
        ctx.err.write(
            f"error: tools missing or at the wrong version: {', '.join(failed)}; run `make setup`\n"
        )
        return 3
    return 0 if all(c.ok for c in checks) else 1

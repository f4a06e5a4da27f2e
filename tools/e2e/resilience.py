"""Zero failed requests while secrets rotate and while a pod is deleted (issue 7, e2e steps 5 and 6).

Both run the in-cluster login loop of load.py. Rotation runs `make rotate` (the product's command) with
the database DSN in its environment, never on its command line.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tools.e2e import load
from tools.e2e.cluster import E2EError
from tools.e2e.portforward import forward

ROTATIONS = ("auth-jwt", "users-db-password")
ROTATION_LOAD_SECONDS = 150
DELETION_LOAD_SECONDS = 45


def test_user(kubeconfig: Path) -> tuple[str, str, int]:
    email, password = f"e2e-load-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)
    body = {"name": "E2E", "surname": "Load", "email": email, "password": password}
    with forward(kubeconfig, "apps", "users", 8080) as users, httpx.Client(timeout=10) as http:
        response = http.post(f"{users}/users-ms/users", json=body)
    if response.status_code != 201:
        raise E2EError(f"creating the load user: HTTP {response.status_code}")
    return email, password, int(response.json()["id"])


def _rotate_env(kubeconfig: Path, pg_dsn: str) -> dict[str, str]:
    """`make rotate` reads the dev Vault from its state file; only the database's DSN is extra."""
    return {**os.environ, "KUBECONFIG": str(kubeconfig), "PLATFORMCTL_PG_DSN": pg_dsn}


def postgres_password(core: Any) -> str:
    secret = core.read_namespaced_secret("postgresql-credentials", "data")
    return base64.b64decode(secret.data["postgres-password"]).decode()


def _rotate(name: str, env: dict[str, str], make: list[str]) -> float:
    """`make rotate ENV=dev SECRET=name SITE=...`: the product's own command, with its smoke subsets."""
    started = time.monotonic()
    result = subprocess.run(
        [*make, "rotate", f"SECRET={name}"], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        print(result.stdout[-4000:], file=sys.stderr)  # the rotation's table and its smoke subset
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise E2EError(f"make rotate SECRET={name} failed (exit {result.returncode}): {last}")
    return time.monotonic() - started


def _verdict(what: str, summary: dict[str, Any]) -> list[str]:
    if summary["failed"] or not summary["ok"]:
        raise E2EError(f"{what}: {summary['ok']} ok, {summary['failed']} failed ({summary['errors']})")
    return [what, f"{summary['ok']} logins, 0 failed"]


def run_rotation(core: Any, batch: Any, kubeconfig: Path, make: list[str], image: str) -> list[list[str]]:
    """Logins keep succeeding while the JWT signing key and the users database password rotate."""
    email, password, user_id = test_user(kubeconfig)
    load.login_secret(core, email, password)
    rows: list[list[str]] = []
    job = "e2e-load-rotation"
    load.start(batch, core, job, image, ROTATION_LOAD_SECONDS)
    started = time.monotonic()
    try:
        with forward(kubeconfig, "data", "postgresql", 5432) as pg:
            host_port = pg.removeprefix("http://")
            dsn = f"postgresql://postgres:{postgres_password(core)}@{host_port}/postgres"
            env = _rotate_env(kubeconfig, dsn)
            for name in ROTATIONS:
                rows.append([f"rotate {name} under load", f"{_rotate(name, env, make):.1f}s"])
        if time.monotonic() - started > ROTATION_LOAD_SECONDS:
            raise E2EError("the rotations outlasted the load loop; raise ROTATION_LOAD_SECONDS")
        rows.append(_verdict("logins during the rotations", load.result(core, job, ROTATION_LOAD_SECONDS)))
    finally:
        load.delete(batch, job)
    rows.append(["load user", f"id {user_id} (its namespace goes with `make destroy`)"])
    return rows


def run_pod_deletion(core: Any, batch: Any, image: str) -> list[list[str]]:
    """Logins keep succeeding while one auth pod and one users pod are deleted."""
    job = "e2e-load-deletion"
    load.start(batch, core, job, image, DELETION_LOAD_SECONDS)
    try:
        time.sleep(10)
        deleted = []
        for release in ("auth", "users"):
            pods = core.list_namespaced_pod("apps", label_selector=f"app.kubernetes.io/name={release}").items
            running = [p.metadata.name for p in pods if p.status.phase == "Running"]
            if len(running) < 2:
                raise E2EError(f"{release} runs {len(running)} pod(s); the deletion test needs 2")
            core.delete_namespaced_pod(running[0], "apps")
            deleted.append(running[0])
        summary = load.result(core, job, DELETION_LOAD_SECONDS)
    finally:
        load.delete(batch, job)
    return [_verdict(f"logins while deleting {', '.join(deleted)}", summary)]

"""Nothing lost (issue 14), on the cluster after `make apply`: users are created, a backup runs now, the data
is deleted, the backup is restored, and the same users log in with the same passwords; then the PostgreSQL
pod is deleted and the data is still there.

Everything goes through the product's own commands, exactly as docs/runbooks/restore-users-database.md
gives them: `make backup`, `platformctl backup list`, `make restore` (refused over data without FORCE=1,
then with it), `platformctl backup restore --into fresh`, and kubectl for scaling the writers and reading
row counts. The users' passwords are made here and travel in request bodies only, never on a command line.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from platformctl.config.paths import repo_root

from tools.e2e.cluster import E2EError, kubectl
from tools.e2e.portforward import forward

USERS = 5
LOGIN_WAIT = 120.0  # seconds the users service may need to serve again after PostgreSQL came back
PSQL = ("exec", "-n", "data", "postgresql-0", "-c", "postgresql", "--", "psql", "-U", "postgres", "-d")


@dataclass(frozen=True)
class BackupFigures:
    """What the run measured (the driver prints it as a table)."""

    backup_name: str
    backup_bytes: int
    backup_seconds: float  # the runner's own: dump, encrypt, upload
    backup_command_seconds: float  # `make backup`, from the Job's creation to its result
    restore_seconds: float  # the runner's own: download, decrypt, pg_restore in one transaction
    restore_command_seconds: float  # `make restore ... FORCE=1`, the safety backup included
    fresh_restore_seconds: float  # `backup restore --into fresh`
    rows_before: int  # users rows when the backup ran
    rows_after_delete: int
    rows_after_restore: int
    rows_after_pod_deletion: int
    logins_after_restore: int
    logins_after_pod_deletion: int

    def rows(self) -> list[list[str]]:
        return [
            ["backup", f"{self.backup_name}, {self.backup_bytes} bytes"],
            [
                "backup: runner / make backup",
                f"{self.backup_seconds:.1f}s / {self.backup_command_seconds:.1f}s",
            ],
            [
                "restore: runner / make restore FORCE=1",
                f"{self.restore_seconds:.1f}s / {self.restore_command_seconds:.1f}s",
            ],
            ["restore --into fresh", f"{self.fresh_restore_seconds:.1f}s"],
            [
                "users rows: before / deleted / restored / pod deleted",
                f"{self.rows_before} / {self.rows_after_delete} / {self.rows_after_restore} / "
                f"{self.rows_after_pod_deletion}",
            ],
            [
                "same passwords log in: after restore / after pod deletion",
                f"{self.logins_after_restore}/{USERS} / {self.logins_after_pod_deletion}/{USERS}",
            ],
        ]


def _run(title: str, argv: list[str], kubeconfig: Path, expect_failure: bool = False) -> tuple[str, float]:
    """One product command, its output shown; (output, seconds). Fails the run on an unexpected exit."""
    shown = ["make", *argv[4:]] if argv[0] == "make" else argv
    print(f"\n=== e2e: {title}: {' '.join(shown)}", flush=True)
    started = time.monotonic()
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        check=False,
    )
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    print(output, end="", flush=True)
    if bool(result.returncode) != expect_failure:
        raise E2EError(
            f"{title}: exit {result.returncode} ({'expected a refusal' if expect_failure else 'failed'})"
        )
    return output, seconds


def _count(kubeconfig: Path, database: str = "users") -> int:
    """The runbook's check: users rows, read by psql inside the pod over its local socket."""
    return int(kubectl(kubeconfig, *PSQL, database, "-Atc", "SELECT count(*) FROM users").strip())


def _create_users(kubeconfig: Path) -> dict[str, str]:
    made: dict[str, str] = {}
    with forward(kubeconfig, "apps", "users", 8080) as users, httpx.Client(timeout=10) as http:
        for number in range(USERS):
            email, password = f"e2e-backup-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)
            body = {"name": "Backup", "surname": f"User{number}", "email": email, "password": password}
            response = http.post(f"{users}/users-ms/users", json=body)
            if response.status_code != 201:
                raise E2EError(f"creating user {number}: HTTP {response.status_code}")
            made[email] = password
    return made


def _logins(kubeconfig: Path, accounts: dict[str, str], wait: float = 0.0) -> int:
    """How many of the accounts log in with their password (through auth, which asks users-ms); with
    `wait`, retries until all do or the time is up (the services reconnect after PostgreSQL restarts)."""
    deadline = time.monotonic() + wait
    while True:
        ok = 0
        try:
            with forward(kubeconfig, "apps", "auth", 8080) as auth, httpx.Client(timeout=10) as http:
                for email, password in accounts.items():
                    response = http.post(
                        f"{auth}/auth-ms/auth/login", json={"email": email, "password": password}
                    )
                    ok += response.status_code == 200
        except (httpx.HTTPError, E2EError):
            ok = 0
        if ok == len(accounts) or time.monotonic() >= deadline:
            return ok
        time.sleep(3)


def _figure(pattern: str, text: str, what: str) -> re.Match[str]:
    found = re.search(pattern, text, re.MULTILINE)
    if not found:
        raise E2EError(f"{what}: the command's output has no line matching {pattern!r}")
    return found


def _wait_for_new_pod(kubeconfig: Path, old_uid: str, timeout: float = 300) -> None:
    """Until the StatefulSet's new postgresql-0 (another uid) is Ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            uid = kubectl(
                kubeconfig, "get", "pod", "postgresql-0", "-n", "data", "-o", "jsonpath={.metadata.uid}"
            )
            if uid and uid != old_uid:
                kubectl(
                    kubeconfig,
                    "wait",
                    "--for=condition=Ready",
                    "pod/postgresql-0",
                    "-n",
                    "data",
                    "--timeout=20s",
                )
                return
        except E2EError:
            pass  # not created yet, or not Ready within this round
        time.sleep(2)
    raise E2EError(f"postgresql-0 was not back and Ready within {timeout:.0f}s of its deletion")


def _scale_users(kubeconfig: Path, replicas: int) -> None:
    kubectl(kubeconfig, "scale", "deployment/users", "-n", "apps", f"--replicas={replicas}")
    kubectl(kubeconfig, "rollout", "status", "deployment/users", "-n", "apps", "--timeout=300s", timeout=320)


def run_backup_restore(kubeconfig: Path, make: list[str]) -> BackupFigures:
    """The whole check; `make` is the driver's make prefix (make -C <repo> ENV=dev SITE=...)."""
    platformctl = [str(repo_root() / ".venv" / "bin" / "platformctl"), "--env", "dev"]
    accounts = _create_users(kubeconfig)
    if _logins(kubeconfig, accounts) != USERS:
        raise E2EError("the new users cannot log in before any backup was made")
    rows_before = _count(kubeconfig)

    output, backup_command = _run("backup now (runbook)", [*make, "backup"], kubeconfig)
    made = _figure(r"^backup (\S+): (\d+) bytes .* in ([\d.]+)s", output, "make backup")
    name = made.group(1)
    listing, _ = _run("list the backups (runbook)", [*platformctl, "backup", "list"], kubeconfig)
    _figure(rf"^last good backup: {re.escape(name)},", listing, "backup list")

    kubectl(kubeconfig, *PSQL, "users", "-c", "DELETE FROM users WHERE email LIKE 'e2e-backup-%'")
    rows_after_delete = _count(kubeconfig)
    if rows_after_delete != rows_before - USERS or _logins(kubeconfig, accounts) != 0:
        raise E2EError("deleting the users did not remove them (rows or logins unchanged)")

    # The runbook: stop the writers, restore (refused over data without FORCE=1), start the writers again.
    replicas = int(
        kubectl(kubeconfig, "get", "deployment/users", "-n", "apps", "-o", "jsonpath={.spec.replicas}")
    )
    _scale_users(kubeconfig, 0)
    try:
        refused, _ = _run(
            "restore without FORCE (must refuse)", [*make, "restore", f"BACKUP={name}"], kubeconfig, True
        )
        _figure(r"restore refused: database users holds", refused, "make restore without FORCE")
        if _count(kubeconfig) != rows_after_delete:
            raise E2EError("a refused restore changed the database")
        output, restore_command = _run(
            "restore (runbook)", [*make, "restore", f"BACKUP={name}", "FORCE=1"], kubeconfig
        )
    finally:
        _scale_users(kubeconfig, replicas)
    restored = _figure(
        rf"^restored {re.escape(name)} into the running database users in ([\d.]+)s", output, "restore"
    )
    _figure(r"^safety backup of what was replaced: \S+-pre-restore", output, "restore")
    rows_after_restore = _count(kubeconfig)
    logins_after_restore = _logins(kubeconfig, accounts, LOGIN_WAIT)

    target = f"users_e2e_{secrets.token_hex(3)}"
    fresh, _ = _run(
        "restore into a fresh database",
        [*platformctl, "backup", "restore", "--name", name, "--into", "fresh", "--target-db", target],
        kubeconfig,
    )
    fresh_seconds = float(
        _figure(
            rf"^restored {re.escape(name)} into the fresh database {target} in ([\d.]+)s", fresh, "fresh"
        ).group(1)
    )
    if _count(kubeconfig, target) != rows_before:
        raise E2EError(f"the fresh database {target} does not hold the backup's {rows_before} users")
    kubectl(kubeconfig, *PSQL, "postgres", "-c", f'DROP DATABASE "{target}"')

    print("\n=== e2e: delete the PostgreSQL pod; its volume keeps the data", flush=True)
    uid = kubectl(kubeconfig, "get", "pod", "postgresql-0", "-n", "data", "-o", "jsonpath={.metadata.uid}")
    kubectl(kubeconfig, "delete", "pod", "postgresql-0", "-n", "data", "--wait=true", timeout=180)
    _wait_for_new_pod(kubeconfig, uid)
    rows_after_pod = _count(kubeconfig)
    logins_after_pod = _logins(kubeconfig, accounts, LOGIN_WAIT)

    figures = BackupFigures(
        backup_name=name,
        backup_bytes=int(made.group(2)),
        backup_seconds=float(made.group(3)),
        backup_command_seconds=round(backup_command, 1),
        restore_seconds=float(restored.group(1)),
        restore_command_seconds=round(restore_command, 1),
        fresh_restore_seconds=fresh_seconds,
        rows_before=rows_before,
        rows_after_delete=rows_after_delete,
        rows_after_restore=rows_after_restore,
        rows_after_pod_deletion=rows_after_pod,
        logins_after_restore=logins_after_restore,
        logins_after_pod_deletion=logins_after_pod,
    )
    problems = []
    if rows_after_restore != rows_before or logins_after_restore != USERS:
        problems.append(
            f"after the restore: {rows_after_restore}/{rows_before} rows, {logins_after_restore} logins"
        )
    if rows_after_pod != rows_before or logins_after_pod != USERS:
        problems.append(
            f"after the pod deletion: {rows_after_pod}/{rows_before} rows, {logins_after_pod} logins"
        )
    if problems:
        print(figures, file=sys.stderr)
        raise E2EError("; ".join(problems))
    return figures

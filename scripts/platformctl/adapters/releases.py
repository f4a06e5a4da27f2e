"""Helm release status, history and rollback through pyhelm3 (helm's JSON output, not its text tables).

Only release metadata is read: never `helm get values`, so no secret value can reach the output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pyhelm3 import Client, errors
from pyhelm3.command import Command

from platformctl.adapters.tools import find_tool
from platformctl.errors import KubernetesError, UsageError

T = TypeVar("T")
NOT_INSTALLED = "not installed"


@dataclass(frozen=True)
class Row:
    name: str
    namespace: str
    revision: int | None
    status: str
    updated: str
    description: str

    def cells(self) -> list[str]:
        revision = "-" if self.revision is None else str(self.revision)
        return [self.name, self.namespace, revision, self.status, self.updated, self.description]


HEADERS = ["release", "namespace", "revision", "status", "updated", "description"]


def client(kubeconfig: str | None = None, command: Command | None = None) -> Client:
    """A pyhelm3 client on the pinned helm (`command` replaces the helm runner, e.g. in tests)."""
    helm = str(find_tool("helm"))
    return Client(command, executable=helm, kubeconfig=Path(kubeconfig) if kubeconfig else None)


def stderr_line(exc: errors.Error) -> str:
    """helm's last stderr line (its error), cut short."""
    raw = getattr(exc, "stderr", b"")
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:200]


def _run(what: str, call: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(call)
    except errors.ReleaseNotFoundError:
        raise UsageError(f"{what}: release not found; check the name and the kube context") from None
    except errors.ConnectionError as exc:
        raise KubernetesError(f"{what}: Kubernetes API unreachable ({stderr_line(exc)})") from None
    except errors.Error as exc:
        raise KubernetesError(f"{what} failed: {stderr_line(exc)}") from None


def _row(revision: Any, name: str, namespace: str) -> Row:
    return Row(
        name,
        namespace,
        int(revision.revision),
        str(revision.status.value),
        revision.updated.strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
        str(revision.description or ""),
    )


async def _status_one(helm: Client, name: str, namespace: str) -> Row:
    try:
        current = await helm.get_current_revision(name, namespace=namespace)
    except errors.ReleaseNotFoundError:
        return Row(name, namespace, None, NOT_INSTALLED, "-", "")
    return _row(current, name, namespace)


async def _status_all(helm: Client, planned: Iterable[tuple[str, str]]) -> list[Row]:
    return list(await asyncio.gather(*(_status_one(helm, name, ns) for name, ns in planned)))


def status(helm: Client, planned: Iterable[tuple[str, str]]) -> list[Row]:
    """Current revision of every planned (name, namespace), in plan order; missing ones say so."""
    return _run("helm status", _status_all(helm, list(planned)))


async def _history(helm: Client, name: str, namespace: str, limit: int) -> list[Row]:
    release = await helm.get_current_revision(name, namespace=namespace)
    revisions = await release.release.history(max_revisions=limit)
    return [_row(r, name, namespace) for r in revisions]


def history(helm: Client, name: str, namespace: str, limit: int = 20) -> list[Row]:
    return _run(f"helm history {name}", _history(helm, name, namespace, limit))


def check_revision(rows: list[Row], revision: int) -> Row:
    """The revision to roll back to must exist and not be the current one."""
    if revision < 1:
        raise UsageError(f"--revision must be a positive revision number, not {revision}")
    found = {row.revision: row for row in rows}
    if revision not in found:
        known = ", ".join(str(r) for r in sorted(r for r in found if r is not None))
        raise UsageError(f"revision {revision} is not in the release's history (known: {known})")
    if rows and revision == max(r.revision or 0 for r in rows):
        raise UsageError(f"revision {revision} is the current revision; nothing to roll back")
    return found[revision]


async def _rollback(helm: Client, name: str, namespace: str, revision: int, dry_run: bool) -> Row:
    current = await helm.get_current_revision(name, namespace=namespace)
    after = await current.release.rollback(revision, dry_run=dry_run, wait=not dry_run, timeout="5m")
    return _row(after, name, namespace)


def rollback(helm: Client, name: str, namespace: str, revision: int, dry_run: bool = False) -> Row:
    """Roll `name` back to `revision` (helm's own --dry-run when asked); returns the current revision."""
    check_revision(history(helm, name, namespace, limit=256), revision)
    return _run(f"helm rollback {name}", _rollback(helm, name, namespace, revision, dry_run))

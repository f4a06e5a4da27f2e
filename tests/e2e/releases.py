"""The release plan (terraform/stacks/release-plan, real terraform) and its installation with pyhelm3."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from platformctl.paths import state_dir
from platformctl.terraform import Stack
from platformctl.values import merge
from pyhelm3 import Client, errors

from tests.e2e.cluster import E2EError

HERE = Path(__file__).resolve().parent
UPSTREAM_SKIP = "upstream chart: no chart repository is reachable from here"
OWN_SKIP = {
    "minio": "no MinIO image can be built here; notifications use the SeaweedFS S3 stand-in "
    "(tests/e2e/manifests/seaweedfs.yaml) instead",
}


@dataclass(frozen=True)
class Planned:
    name: str
    namespace: str
    wave: int
    chart_path: str | None
    values_files: tuple[str, ...]
    timeout: int

    @property
    def skip_reason(self) -> str | None:
        return UPSTREAM_SKIP if self.chart_path is None else OWN_SKIP.get(self.name)


def plan(env: str, terraform_root: Path) -> tuple[list[Planned], list[Any]]:
    """Apply the provider-free release-plan stack (outputs only) and read `releases` in plan order."""
    state = state_dir() / env / "release-plan.tfstate"
    state.parent.mkdir(parents=True, exist_ok=True)
    stack = Stack(terraform_root / "stacks" / "release-plan", variables={"env": env})
    stack.init(backend_config={"path": str(state)})
    stack.apply()
    raw = stack.output("releases")
    planned = [
        Planned(
            r["name"],
            r["namespace"],
            int(r["wave"]),
            r["chart"]["path"],
            tuple(r["values_files"]),
            int(r["timeout"]),
        )
        for r in raw
    ]
    return sorted(planned, key=lambda p: p.wave), raw


def values_for(release: Planned, root: Path) -> dict[str, Any]:
    """common, env, generated (the plan's order), then tests/e2e/values/<release>.yaml; later files win."""
    files = [root / f for f in release.values_files] + [HERE / "values" / f"{release.name}.yaml"]
    merged: dict[str, Any] = {}
    for path in files:
        if path.is_file():
            merged = merge(merged, yaml.safe_load(path.read_text()) or {})
    return merged


def _helm_error(what: str, exc: errors.Error) -> E2EError:
    raw = getattr(exc, "stderr", b"")
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return E2EError(f"{what} failed: {(lines[-1] if lines else type(exc).__name__)[:400]}")


async def _install(helm: Client, release: Planned, root: Path) -> None:
    chart = await helm.get_chart(root / str(release.chart_path))
    await helm.install_or_upgrade_release(
        release.name,
        chart,
        values_for(release, root),
        atomic=True,
        wait=True,
        cleanup_on_fail=True,
        create_namespace=False,
        namespace=release.namespace,
        timeout=f"{release.timeout}s",
    )


def install(helm: Client, release: Planned, root: Path) -> float:
    """`helm upgrade --install --atomic --wait` with the plan's timeout; returns the seconds it took."""
    started = time.monotonic()
    try:
        asyncio.run(_install(helm, release, root))
    except errors.Error as exc:
        raise _helm_error(f"helm install {release.name}", exc) from None
    return time.monotonic() - started


def uninstall(helm: Client, release: Planned) -> bool:
    """False when the release was not installed."""
    try:
        asyncio.run(
            helm.uninstall_release(release.name, namespace=release.namespace, wait=True, timeout="5m")
        )
    except errors.ReleaseNotFoundError:
        return False
    except errors.Error as exc:
        raise _helm_error(f"helm uninstall {release.name}", exc) from None
    return True

"""Install the release plan with pyhelm3: the documented alternative to Terraform's stacks/platform.

For sites where the Terraform helm provider cannot be installed (site profile `installer: helm`), this
installs the identical plan: the same release-plan module output, the same values files in the same
order (merged the way Helm merges several `-f` files), and the same settings as every `helm_release` of
terraform/modules/platform (atomic, wait, cleanup on fail, no namespace creation, the plan's timeout, the
same history depth), wave by wave, the releases of one wave at once. tests/unit/test_installer.py keeps
the two paths equal.

A release whose chart and values equal the deployed revision is left alone, so a rerun changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyhelm3 import Client, errors

from platformctl.adapters.releases import stderr_line
from platformctl.adapters.tools import find_tool
from platformctl.app.values import load_yaml, merge
from platformctl.config.release import Release
from platformctl.errors import ConfigError, KubernetesError

HelmClient = Client  # the pyhelm3 client type, for callers that hold one

# pyhelm3 logs every failed helm call (also the expected "release not found"); our errors carry what matters.
logging.getLogger("pyhelm3").setLevel(logging.CRITICAL)

# The settings of every helm_release in terraform/modules/platform/main.tf (parity test: test_installer).
HELM_RELEASE_SETTINGS: Mapping[str, bool] = {
    "atomic": True,
    "wait": True,
    "cleanup_on_fail": True,
    "create_namespace": False,
}
# stacks/platform `max_history` default (same test).
MAX_HISTORY = 10


@dataclass(frozen=True)
class Outcome:
    name: str
    namespace: str
    wave: int
    action: str  # installed, upgraded, unchanged, skipped, uninstalled, absent
    detail: str

    def cells(self) -> list[str]:
        return [self.name, self.namespace, str(self.wave), self.action, self.detail]


HEADERS = ["release", "namespace", "wave", "action", "time / reason"]


def client(kubeconfig: str | None, context: str | None) -> Client:
    return Client(
        executable=str(find_tool("helm")),
        kubeconfig=Path(kubeconfig) if kubeconfig else None,
        kubecontext=context,
        history_max_revisions=MAX_HISTORY,
    )


def load_values(release: Release, root: Path) -> dict[str, Any]:
    """The release's values files in plan order, merged like Helm merges repeated `-f` files.

    common/ and <env>/ files may be absent (the plan's preconditions check the required ones); the
    generated file must exist, since `platformctl values` runs before any release is installed.
    """
    generated = root / release.generated_file
    if not generated.is_file():
        raise ConfigError(f"{release.generated_file} is missing; run `platformctl values` (apply does) first")
    merged: dict[str, Any] = {}
    for name in release.values_files:
        merged = merge(merged, load_yaml(root / name))
    return merged


def _helm_error(what: str, exc: errors.Error) -> KubernetesError:
    last = stderr_line(exc)
    return KubernetesError(f"{what} failed: {last}; see `platformctl releases history` and the pods' events")


async def _chart(helm: Client, release: Release, root: Path) -> Any:
    if release.chart_path:
        return await helm.get_chart(root / release.chart_path)
    return await helm.get_chart(
        release.chart_name, repo=release.chart_repository, version=release.chart_version
    )


async def _preview(helm: Client, release: Release, root: Path) -> Outcome:
    """What `install` would do with this release; reads release metadata and user values only."""
    try:
        current = await helm.get_current_revision(release.name, namespace=release.namespace)
    except errors.ReleaseNotFoundError:
        return Outcome(release.name, release.namespace, release.wave, "would install", "")
    chart = await _chart(helm, release, root)
    change = await helm.should_install_or_upgrade_release(current, chart, load_values(release, root))
    action = "would upgrade" if change else "no change"
    return Outcome(release.name, release.namespace, release.wave, action, f"revision {current.revision}")


def preview(helm: Client, releases: list[Release], root: Path, skips: Mapping[str, str]) -> list[Outcome]:
    """`plan` for the pyhelm3 installer: install, upgrade or no change per release; changes nothing."""
    outcomes: list[Outcome] = []
    for wave in waves(releases):
        for release in wave:
            if release.name in skips:
                outcomes.append(
                    Outcome(release.name, release.namespace, release.wave, "skipped", skips[release.name])
                )
                continue
            try:
                outcomes.append(asyncio.run(_preview(helm, release, root)))
            except errors.Error as exc:
                raise _helm_error(f"helm status {release.name} ({release.namespace})", exc) from None
    return outcomes


async def _ensure(helm: Client, release: Release, root: Path) -> Outcome:
    started = time.monotonic()
    chart = await _chart(helm, release, root)
    values = load_values(release, root)
    try:
        before = await helm.get_current_revision(release.name, namespace=release.namespace)
        previous: int | None = before.revision
    except errors.ReleaseNotFoundError:
        previous = None
    after = await helm.ensure_release(
        release.name,
        chart,
        values,
        namespace=release.namespace,
        timeout=f"{release.timeout}s",
        skip_crds=release.skip_crds,
        **HELM_RELEASE_SETTINGS,
    )
    seconds = f"{time.monotonic() - started:.1f}s"
    if previous is None:
        action = "installed"
    elif after.revision == previous:
        action = "unchanged"
    else:
        action = "upgraded"
    return Outcome(
        release.name, release.namespace, release.wave, action, f"{seconds} (revision {after.revision})"
    )


def waves(releases: list[Release]) -> list[list[Release]]:
    """The plan's releases grouped by wave, in wave order."""
    numbers = sorted({r.wave for r in releases})
    return [[r for r in releases if r.wave == n] for n in numbers]


async def _install_wave(helm: Client, wave: list[Release], root: Path) -> list[Outcome]:
    results = await asyncio.gather(*(_ensure(helm, r, root) for r in wave), return_exceptions=True)
    for release, result in zip(wave, results, strict=True):
        if isinstance(result, errors.Error):
            raise _helm_error(f"helm upgrade --install {release.name} ({release.namespace})", result)
        if isinstance(result, BaseException):
            raise result
    return [r for r in results if isinstance(r, Outcome)]


def install(
    helm: Client,
    releases: list[Release],
    root: Path,
    skips: Mapping[str, str],
    progress: Callable[[str], None],
) -> list[Outcome]:
    """Install or upgrade every planned release wave by wave; a failed wave stops the rest (atomic)."""
    outcomes: list[Outcome] = []
    for wave in waves(releases):
        todo = [r for r in wave if r.name not in skips]
        outcomes += [
            Outcome(r.name, r.namespace, r.wave, "skipped", skips[r.name]) for r in wave if r not in todo
        ]
        if todo:
            progress(f"wave {wave[0].wave}: {', '.join(r.name for r in todo)}")
            outcomes += asyncio.run(_install_wave(helm, todo, root))
    return outcomes


async def _uninstall(helm: Client, release: Release) -> Outcome:
    started = time.monotonic()
    try:
        await helm.get_current_revision(release.name, namespace=release.namespace)
    except errors.ReleaseNotFoundError:
        return Outcome(release.name, release.namespace, release.wave, "absent", "")
    await helm.uninstall_release(
        release.name, namespace=release.namespace, wait=True, timeout=f"{release.timeout}s"
    )
    seconds = f"{time.monotonic() - started:.1f}s"
    return Outcome(release.name, release.namespace, release.wave, "uninstalled", seconds)


def uninstall(helm: Client, releases: list[Release], progress: Callable[[str], None]) -> list[Outcome]:
    """Uninstall in reverse wave order (consumers before what they need)."""
    outcomes: list[Outcome] = []
    for wave in reversed(waves(releases)):
        progress(f"uninstall wave {wave[0].wave}: {', '.join(r.name for r in wave)}")
        try:
            outcomes += asyncio.run(_gather_uninstall(helm, wave))
        except errors.Error as exc:
            raise _helm_error(f"helm uninstall (wave {wave[0].wave})", exc) from None
    return outcomes


async def _gather_uninstall(helm: Client, wave: list[Release]) -> list[Outcome]:
    return list(await asyncio.gather(*(_uninstall(helm, r) for r in wave)))

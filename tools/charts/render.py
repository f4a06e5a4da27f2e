"""Render the charts with the real helm: every release x environment, values layered as in production."""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from platformctl.adapters.tools import find_tool
from platformctl.app.secret_mounts import mount_values
from platformctl.app.values import COMPANION_IMAGES
from platformctl.config import environments, secret_map

REPO = Path(__file__).resolve().parents[2]
CHARTS = REPO / "charts"
VALUES = REPO / "values"
GENERATED = Path(__file__).resolve().parent / "fixtures" / "generated"
ENVS = environments.names()

# CRD-backed APIs that wave 0 (kube-prometheus-stack, traefik, cert-manager) serves before the own charts.
CRD_APIS = (
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PrometheusRule",
    "traefik.io/v1alpha1/IngressRoute",
    "traefik.io/v1alpha1/Middleware",
    "cert-manager.io/v1/Certificate",
    "cert-manager.io/v1/ClusterIssuer",
)


@dataclass(frozen=True)
class Release:
    name: str
    chart: str
    namespace: str
    image: str | None  # key under versions.yaml `images:`


RELEASES = (
    Release("platform", "platform", "platform", None),
    Release("postgresql", "postgresql", "data", "postgresql"),
    Release("rabbitmq", "rabbitmq", "data", "rabbitmq"),
    Release("minio", "minio", "data", "minio"),
    Release("users", "microservice", "apps", "users"),
    Release("auth", "microservice", "apps", "auth"),
    Release("notifications", "microservice", "apps", "notifications"),
)
UPSTREAM = ("traefik", "kube-prometheus-stack", "metrics-server", "cert-manager")
OWN_CHARTS = sorted({r.chart for r in RELEASES})


class RenderError(RuntimeError):
    pass


@cache
def versions() -> dict:
    return yaml.safe_load((REPO / "versions.yaml").read_text())


@cache
def helm() -> str:
    return str(find_tool("helm"))


def release(name: str) -> Release:
    return next(r for r in RELEASES if r.name == name)


@cache
def _mounts_dir() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="chart-mounts-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


@cache
def map_mounts(name: str) -> Path:
    """What `platformctl values` generates from values/secrets-map.yaml for the release (its Secret mounts
    and `*_FILE` settings), written once per process beside the checksum fixture."""
    path = _mounts_dir() / f"{name}.yaml"
    path.write_text(yaml.safe_dump(mount_values(secret_map.load(), name), sort_keys=False))
    return path


def values_files(rel: Release, env: str) -> list[Path]:
    """common, env, then the generated data (the checksum fixture, the map's mounts): later files win, as
    in `platformctl values`."""
    return [
        VALUES / "common" / f"{rel.name}.yaml",
        VALUES / env / f"{rel.name}.yaml",
        GENERATED / f"{rel.name}.yaml",
        map_mounts(rel.name),
    ]


def image_args(rel: Release) -> list[str]:
    """What the generated values carry for own images, read from versions.yaml."""
    if rel.image is None:
        return []
    image = versions()["images"][rel.image]
    pin = f"image.repository={image['repository']},image.tag={image['tag']}"
    if image.get("digest"):  # the publisher's digest, where versions.yaml has one
        pin += f",image.digest={image['digest']}"
    for name, key in COMPANION_IMAGES.get(rel.name, {}).items():
        other = versions()["images"][name]
        pin += f",{key}.image.repository={other['repository']},{key}.image.tag={other['tag']}"
    return ["--set-string", pin]


def helm_args(
    rel: Release,
    env: str,
    kube_version: str | None = None,
    crds: bool = True,
    extra: Sequence[str] = (),
) -> list[str]:
    args = [helm(), "template", rel.name, str(CHARTS / rel.chart), "--namespace", rel.namespace]
    for path in values_files(rel, env):
        args += ["-f", str(path)]
    args += image_args(rel)
    if kube_version:
        args += ["--kube-version", kube_version]
    if crds:
        for api in CRD_APIS:
            args += ["--api-versions", api]
    return [*args, *extra]


def run_helm(args: Sequence[str]) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode != 0:
        raise RenderError(proc.stderr.strip())
    return proc.stdout


def parse(manifest: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(manifest) if doc]


def render(rel: Release, env: str, **kwargs: object) -> list[dict]:
    return parse(run_helm(helm_args(rel, env, **kwargs)))  # type: ignore[arg-type]


def render_many(
    jobs: Iterable[tuple[Release, str]], kube_version: str | None = None, workers: int = 4
) -> dict[tuple[str, str], list[dict]]:
    """Render in parallel (helm is a separate process, so threads suffice)."""
    jobs = list(jobs)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        docs = pool.map(lambda job: render(job[0], job[1], kube_version=kube_version), jobs)
        return {(rel.name, env): result for (rel, env), result in zip(jobs, docs, strict=True)}


def all_jobs() -> list[tuple[Release, str]]:
    return [(rel, env) for rel in RELEASES for env in ENVS]

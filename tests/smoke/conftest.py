"""Parametrisation of the smoke checks from ENV's release plan, and the HTTP entry point.

Every check carries `component` markers naming the releases it covers; `platformctl.app.smoke` (loaded as a
plugin by `platformctl smoke`) applies `--only` and `--skip` through them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
import yaml
from platformctl.app import smoke
from platformctl.config.paths import repo_root

from tests.smoke import cluster

HTTP_TIMEOUT = 10  # seconds per request


def _param(value: object, name: str, *names: str) -> object:
    return pytest.param(value, id=name, marks=pytest.mark.component(*names))


def _pods() -> list[object]:
    namespaces = sorted({r.namespace for r in cluster.plan()})
    params = []
    for namespace in namespaces:
        for pod in cluster.live_pods(namespace):
            if pod.status.phase == "Succeeded":  # a finished Job's pod (the backup CronJob keeps three)
                continue
            release = (pod.metadata.labels or {}).get("app.kubernetes.io/instance")
            marks = (release,) if release else ()
            params.append(_param(pod, f"{namespace}/{pod.metadata.name}", *marks))
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "release" in metafunc.fixturenames:
        metafunc.parametrize("release", [_param(r, r.name, r.name) for r in cluster.plan()])
    if "service" in metafunc.fixturenames:
        metafunc.parametrize("service", [_param(r, r.name, r.name) for r in cluster.services()])
    if "pod" in metafunc.fixturenames:
        metafunc.parametrize("pod", _pods())


class Entry:
    """Where HTTP goes: `health(svc)` reaches /healthz and /readyz, `api(svc)` the API prefix.

    Port-forwards open on first use, so one service that is down fails only the checks that need it.
    """

    def __init__(self, kind: str, stack: ExitStack) -> None:
        self.kind = kind
        self._stack = stack
        self._ports: dict[tuple[str, str, int], int | str] = {}

    def _port(self, namespace: str, service: str, port: int) -> int:
        """The local port of a forward, opened once; a failure is remembered, not retried per check."""
        key = (namespace, service, port)
        if key not in self._ports:
            try:
                cluster.require_endpoints(namespace, service)
                self._ports[key] = self._stack.enter_context(cluster.forward(namespace, service, port))
            except AssertionError as exc:
                self._ports[key] = str(exc)
        found = self._ports[key]
        if isinstance(found, str):
            raise AssertionError(found)
        return found

    def health(self, service: str) -> str:
        release = cluster.planned(service)
        assert release is not None, f"{service} is not in the plan"
        return f"http://127.0.0.1:{self._port(release.namespace, service, 8080)}"

    def api(self, service: str) -> tuple[str, dict[str, str]]:
        """Base URL and headers for the service's API prefix."""
        if self.kind != "traefik":
            return self.health(service), {}
        traefik = cluster.planned("traefik")
        assert traefik is not None
        ingress = dict(_layered(service).get("ingress") or {})
        port = self._port(traefik.namespace, "traefik", 443)
        return f"https://127.0.0.1:{port}", {"Host": str(ingress.get("host", ""))}


def _layered(name: str) -> dict[str, object]:
    merged: dict[str, object] = {}
    for folder in ("common", cluster.env()):
        path = repo_root() / "values" / folder / f"{name}.yaml"
        if path.is_file():
            merged.update(yaml.safe_load(path.read_text()) or {})
    return merged


def _entry_kind() -> str:
    wanted = os.environ.get(smoke.ENTRY_VAR) or "auto"
    if wanted == "auto":
        return "traefik" if cluster.deployed("traefik") else "port-forward"
    if wanted == "traefik" and not cluster.deployed("traefik"):
        raise AssertionError("--entry traefik, but the traefik release is not deployed")
    return wanted


@pytest.fixture(scope="session")
def entry() -> Iterator[Entry]:
    """Port-forwards per service for the root paths (Traefik routes only the API prefixes)."""
    with ExitStack() as stack:
        yield Entry(_entry_kind(), stack)


@pytest.fixture(scope="session")
def http(entry: Entry) -> Iterator[httpx.Client]:
    # Traefik on a dev cluster serves a self-signed certificate; only 127.0.0.1 forwards are used.
    with httpx.Client(timeout=HTTP_TIMEOUT, verify=entry.kind != "traefik") as client:
        yield client


@pytest.fixture(scope="session")
def settings() -> dict[str, dict[str, str]]:
    """The deployed services' settings (their ConfigMaps, which hold no secret)."""
    found = {}
    for svc in cluster.services():
        config = cluster.core().read_namespaced_config_map(svc.name, svc.namespace, _request_timeout=30)
        found[svc.name] = dict(config.data or {})
    return found

"""Cluster access for the smoke checks: the plan, the kube client, helm, port-forwards on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from platformctl.adapters import kube, portforward, releases
from platformctl.adapters.tools import find_tool
from platformctl.app import release_plan, smoke
from platformctl.config.release import Release
from platformctl.errors import KubernetesError

FORWARD_TIMEOUT = 20  # seconds for a port-forward to listen
OWN_SERVICE_CHART = "charts/microservice"


def env() -> str:
    return os.environ.get(smoke.ENV_VAR) or "dev"


@cache
def plan() -> tuple[Release, ...]:
    """The release plan the CLI computed (a JSON file), else the release-plan stack for ENV."""
    path = os.environ.get(smoke.PLAN_VAR)
    if not path:
        return tuple(release_plan.from_terraform(env()))
    return tuple(
        Release(r["name"], r["namespace"], r["chart_path"], tuple(r["values_files"]))
        for r in json.loads(Path(path).read_text())
    )


def skipped() -> dict[str, str]:
    return dict(json.loads(os.environ.get(smoke.SKIP_VAR) or "{}"))


def services() -> list[Release]:
    return [r for r in plan() if (r.chart_path or "").rstrip("/").endswith(OWN_SERVICE_CHART)]


def planned(name: str) -> Release | None:
    return next((r for r in plan() if r.name == name), None)


@cache
def core() -> Any:
    from kubernetes import client

    return client.CoreV1Api(kube.api_client(env()))


@cache
def live_pods(namespace: str, selector: str | None = None) -> list[Any]:
    """Pods that are meant to serve: a terminating pod (deletionTimestamp set, e.g. the old ReplicaSet's
    during a rollout) is on its way out and is neither Ready nor reachable by exec."""
    pods = core().list_namespaced_pod(namespace, label_selector=selector, _request_timeout=30).items
    return [pod for pod in pods if pod.metadata.deletion_timestamp is None]


def helm_status() -> dict[str, str]:
    """Helm status of every planned release (pyhelm3), `not installed` for missing ones."""
    rows = releases.status(releases.client(kube.kubeconfig(env())), [(r.name, r.namespace) for r in plan()])
    return {row.name: row.status for row in rows}


def deployed(name: str) -> bool:
    return planned(name) is not None and name not in skipped() and helm_status().get(name) == "deployed"


def secret_data(namespace: str, name: str) -> dict[str, str]:
    found = kube.KubeSecrets(kube.api_client(env())).get(namespace, name)
    assert found is not None, f"Secret {namespace}/{name} is missing"
    return {k: base64.b64decode(v).decode() for k, v in found["data"].items()}


def require_endpoints(namespace: str, service: str) -> None:
    """A port-forward to a Service without a ready pod can only time out: say so at once."""
    endpoints = core().read_namespaced_endpoints(service, namespace, _request_timeout=30)
    ready = [a for subset in endpoints.subsets or [] for a in subset.addresses or []]
    assert ready, f"Service {namespace}/{service} has no ready endpoint (no Ready pod behind it)"


def kubectl_args() -> list[str]:
    config = kube.kubeconfig(env())
    args = [str(find_tool("kubectl")), "--context", kube.expected_context(env())]
    return args + (["--kubeconfig", config] if config else [])


@contextmanager
def forward(namespace: str, service: str, port: int) -> Iterator[int]:
    """Yields a 127.0.0.1 port forwarded to svc/`service`:`port`; the kubectl process is stopped after."""
    try:
        with portforward.forward(kubectl_args(), namespace, service, port, FORWARD_TIMEOUT) as local:
            yield local
    except KubernetesError as exc:  # a check failure, reported like any other assertion
        raise AssertionError(str(exc)) from None

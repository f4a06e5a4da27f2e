"""Releases deployed and healthy, pods Ready without restarts, image tags pinned."""

from __future__ import annotations

from typing import Any

import pytest
from platformctl.app import smoke
from platformctl.config.release import Release

from tests.smoke import cluster


def test_release_deployed(release: Release, request: pytest.FixtureRequest) -> None:
    status = cluster.helm_status()[release.name]
    assert status == "deployed", f"release {release.namespace}/{release.name} is '{status}'"
    smoke.record(request, f"{release.namespace}: deployed")


def test_pod_ready_without_restarts(pod: Any, request: pytest.FixtureRequest) -> None:
    statuses = pod.status.container_statuses or []
    conditions = {c.type: c.status for c in pod.status.conditions or []}
    assert conditions.get("Ready") == "True", f"pod is not Ready (phase {pod.status.phase})"
    restarts = {s.name: s.restart_count for s in statuses if s.restart_count}
    assert not restarts, f"containers restarted: {restarts}"
    smoke.record(request, f"Ready, {len(statuses)} container(s), 0 restarts")


def _unpinned(image: str) -> bool:
    if "@sha256:" in image:
        return False
    name = image.rsplit("/", 1)[-1]
    return ":" not in name or name.rsplit(":", 1)[1] == "latest"


def test_pod_images_pinned(pod: Any, request: pytest.FixtureRequest) -> None:
    containers = [*(pod.spec.init_containers or []), *pod.spec.containers]
    images = sorted({c.image for c in containers})
    bad = [image for image in images if _unpinned(image)]
    assert not bad, f"images without a pinned tag: {', '.join(bad)}"
    smoke.record(request, ", ".join(images))


def _workloads(release: Release) -> list[Any]:
    from kubernetes import client

    apps = client.AppsV1Api(cluster.core().api_client)
    selector = f"app.kubernetes.io/instance={release.name}"
    found = apps.list_namespaced_deployment(release.namespace, label_selector=selector, _request_timeout=30)
    sets = apps.list_namespaced_stateful_set(release.namespace, label_selector=selector, _request_timeout=30)
    return [*found.items, *sets.items]


def test_release_workloads_available(release: Release, request: pytest.FixtureRequest) -> None:
    """Helm's `deployed` says nothing about replicas: every workload of the release must be fully Ready."""
    workloads = _workloads(release)
    short = [
        f"{type(w).__name__.removeprefix('V1')} {w.metadata.name}: "
        f"{w.status.ready_replicas or 0}/{w.spec.replicas}"
        for w in workloads
        if not w.spec.replicas or (w.status.ready_replicas or 0) < w.spec.replicas
    ]
    assert not short, f"not fully Ready: {'; '.join(short)}"
    smoke.record(request, f"{len(workloads)} workload(s) Ready" if workloads else "no workloads")

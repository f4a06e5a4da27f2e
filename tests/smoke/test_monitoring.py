"""Monitoring: Prometheus targets of the services up, the platform's dashboards in Grafana.

Skipped with the reason when kube-prometheus-stack is not in the plan or not deployed; never passed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from platformctl.app import smoke
from platformctl.config.paths import repo_root

from tests.smoke import cluster

RELEASE = "kube-prometheus-stack"
pytestmark = pytest.mark.component(RELEASE)


@pytest.fixture(scope="module")
def namespace() -> str:
    release = cluster.planned(RELEASE)
    if release is None:
        pytest.skip(f"{RELEASE} is not in the release plan of {cluster.env()}")
    if not cluster.deployed(RELEASE):
        pytest.skip(f"{RELEASE} is planned but not deployed ({cluster.helm_status().get(RELEASE)})")
    return release.namespace


@pytest.fixture(scope="module")
def prometheus(namespace: str) -> Iterator[str]:
    with cluster.forward(namespace, f"{RELEASE}-prometheus", 9090) as port:
        yield f"http://127.0.0.1:{port}"


def test_service_targets_up(prometheus: str, request: pytest.FixtureRequest) -> None:
    names = [s.name for s in cluster.services()]
    query = f'up{{service=~"{"|".join(names)}"}}'
    result = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=10).json()
    series = {r["metric"].get("service"): r["value"][1] for r in result["data"]["result"]}
    missing = [n for n in names if n not in series]
    down = [n for n, value in series.items() if value != "1"]
    assert not missing and not down, f"targets missing: {missing}, down: {down}"
    smoke.record(request, f"up == 1: {', '.join(sorted(series))}")


def test_dashboards_present(namespace: str, request: pytest.FixtureRequest) -> None:
    folder = repo_root() / "charts" / "platform" / "dashboards"
    wanted = {json.loads(path.read_text())["uid"] for path in folder.glob("*.json")}
    admin = cluster.secret_data(namespace, f"{RELEASE}-grafana")
    auth = (admin["admin-user"], admin["admin-password"])
    with cluster.forward(namespace, f"{RELEASE}-grafana", 80) as port:
        found = httpx.get(
            f"http://127.0.0.1:{port}/api/search", params={"type": "dash-db"}, auth=auth, timeout=10
        ).json()
    missing = sorted(wanted - {d.get("uid") for d in found})
    assert not missing, f"dashboards missing in Grafana: {', '.join(missing)}"
    smoke.record(request, f"{len(wanted)} dashboards")

"""Waves: every release that renders a custom resource comes after the release that installs its CRD.

Helm renders a whole release before it applies any of it, so a chart whose templates use a CRD-based
kind cannot share a wave with the chart that installs that CRD: either it fails outright (traefik chart
v37.3.0, templates/servicemonitor.yaml: `fail "ERROR: You have to deploy monitoring.coreos.com/v1
first"` when the API is missing and `metrics.prometheus.serviceMonitor.enabled`), or it silently skips
the object (own charts guard with `.Capabilities.APIVersions.Has`) and the cluster runs unmonitored.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.terraform.test_release_plan import read_plan
from tests.terraform.tfkit import ENVS, REPO_ROOT, versions

# API group -> the release that installs its CRDs: the CRD-only releases for the charts whose CRDs live
# in a crds/ folder (versions.yaml `charts.<name>.crds`), cert-manager for its own (templates).
CRD_PROVIDERS = {
    "monitoring.coreos.com": "prometheus-operator-crds",
    "traefik.io": "traefik-crds",
    "cert-manager.io": "cert-manager",
}

# Upstream charts are not in the repository, so what they render is listed by hand: traefik renders a
# ServiceMonitor (values/common/traefik.yaml metrics.prometheus.serviceMonitor.enabled) and cert-manager
# one too (values/common/cert-manager.yaml prometheus.servicemonitor.enabled); kube-prometheus-stack
# renders Prometheus, Alertmanager, ServiceMonitors and PrometheusRules (chart 79.5.0 templates/).
UPSTREAM_CONSUMERS = {
    "traefik": {"monitoring.coreos.com"},
    "cert-manager": {"monitoring.coreos.com"},
    "kube-prometheus-stack": {"monitoring.coreos.com"},
}

_API_VERSION = re.compile(r"^\s*apiVersion:\s*[\"']?([a-z0-9.-]+)/", re.MULTILINE)


def own_chart_groups(chart_path: str) -> set[str]:
    """The CRD API groups a chart's templates render (apiVersion lines), among those of CRD_PROVIDERS."""
    groups: set[str] = set()
    for template in sorted((REPO_ROOT / chart_path / "templates").rglob("*")):
        if template.is_file() and template.suffix in {".yaml", ".yml", ".tpl"}:
            groups |= set(_API_VERSION.findall(template.read_text())) & set(CRD_PROVIDERS)
    return groups


def consumed_groups(release: dict[str, Any]) -> set[str]:
    if release["chart"]["path"] is not None:
        return own_chart_groups(release["chart"]["path"])
    return UPSTREAM_CONSUMERS.get(release["name"], set())


def order_violations(releases: list[dict[str, Any]]) -> list[str]:
    wave = {r["name"]: r["wave"] for r in releases}
    problems = []
    for release in releases:
        for group in sorted(consumed_groups(release)):
            provider = CRD_PROVIDERS[group]
            if provider in wave and wave[provider] >= release["wave"]:
                problems.append(
                    f"{release['name']} (wave {release['wave']}) renders {group} objects but "
                    f"{provider}, which installs those CRDs, is in wave {wave[provider]}"
                )
    return problems


def test_table_matches_the_own_charts() -> None:
    """The grep finds what the charts really render, so the table above cannot go stale unnoticed."""
    assert own_chart_groups("charts/platform") == set(CRD_PROVIDERS)
    assert own_chart_groups("charts/microservice") == {"monitoring.coreos.com", "traefik.io"}
    assert "monitoring.coreos.com" in own_chart_groups("charts/rabbitmq")


def test_the_check_catches_a_consumer_in_the_providers_wave() -> None:
    """Negative control: a consumer in its CRD release's wave is reported."""
    chart = {"path": None, "repository": "x", "name": "x", "version": "1"}
    old = [
        {"name": "prometheus-operator-crds", "wave": 0, "chart": chart},
        {"name": "traefik", "wave": 0, "chart": chart},
    ]
    assert order_violations(old) == [
        "traefik (wave 0) renders monitoring.coreos.com objects but prometheus-operator-crds, which "
        "installs those CRDs, is in wave 0"
    ]


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_charts_with_a_crds_folder_skip_it_and_get_a_crd_release(tmp_path: Path, env_name: str) -> None:
    """Every planned upstream release whose CRDs come from a CRD chart (versions.yaml) is installed with
    skip_crds, and a CRD release of exactly that chart comes in an earlier wave; no other release skips."""
    releases = read_plan(tmp_path, env_name)
    pinned = versions()["charts"]
    by_consumer = {r["crds_of"]: r for r in releases if r["crds_of"]}
    for release in releases:
        crds = pinned.get(release["name"], {}).get("crds") if not release["crds_of"] else None
        expected = isinstance(crds, dict)
        assert release["skip_crds"] is expected, f"{release['name']}: skip_crds {release['skip_crds']}"
        if expected:
            crd_release = by_consumer[release["name"]]
            assert crd_release["chart"]["name"] == crds["chart"], release["name"]
            assert crd_release["wave"] < release["wave"], release["name"]
            assert crd_release["name"] in release["needs"], release["name"]


@pytest.mark.parametrize("env_name", ENVS)
def test_crd_consumers_come_after_their_crds(tmp_path: Path, env_name: str) -> None:
    releases = read_plan(tmp_path, env_name)
    assert not order_violations(releases), "\n".join(order_violations(releases))


def test_upstream_consumers_need_their_providers(tmp_path: Path) -> None:
    """Upstream charts that fail without a CRD also declare it in `needs`, so the release-plan module's
    own precondition (a release must come after everything it needs) guards the order in Terraform."""
    planned = {r["name"]: r for r in read_plan(tmp_path, "prod")}
    for name, groups in UPSTREAM_CONSUMERS.items():
        providers = {CRD_PROVIDERS[g] for g in groups}
        assert providers <= set(planned[name]["needs"]), (
            f"{name} renders objects of {sorted(providers)} but needs only {planned[name]['needs']}"
        )

"""Capacity: every env's planned releases fit each namespace's ResourceQuota and LimitRange.

The model is scripts/platformctl/app/capacity.py, run on the real release plan of each env (terraform) with
the own charts as rendered by the session fixture (real helm, values/common + values/<env> + the
generated fixture). Upstream releases come from their values and values/upstream-workloads.yaml, whose
facts were read at traefik 37.3.0, kube-prometheus-stack 79.5.0 (with grafana 10.1.4,
kube-state-metrics 6.4.1, prometheus-node-exporter 4.49.1; pods built by prometheus-operator v0.86.2),
cert-manager v1.19.1 and metrics-server 3.13.0; a pin bump fails test_facts_read_at_the_pinned_version.
"""

from __future__ import annotations

import pytest
import yaml
from platformctl.app import capacity
from platformctl.config.release import Release

from tools.charts import render

REPO = render.REPO


def _guarded(env: str) -> list[str]:
    chart = yaml.safe_load((REPO / "charts/platform/values.yaml").read_text())
    files = [REPO / "values/common/platform.yaml", REPO / f"values/{env}/platform.yaml"]
    return sorted(capacity.guards(capacity.merge(chart, capacity.load_values(files))))


CASES = [(env, ns) for env in render.ENVS for ns in _guarded(env)]
QUOTA_CASES = [(env, ns, res) for env, ns in CASES for res in capacity.RESOURCES]
LIMIT_CASES = [(env, ns, res) for env, ns in CASES for res in ("cpu", "memory")]


def _id(case: tuple[str, ...]) -> str:
    return "/".join(case)


@pytest.fixture(scope="session")
def plans(env_plans: dict[str, list[Release]]) -> dict[str, list[Release]]:
    return env_plans


@pytest.fixture(scope="session")
def models(plans, rendered) -> dict[str, capacity.EnvModel]:
    return {
        env: capacity.build(env, plans[env], lambda r, env=env: rendered[(r.name, env)], REPO)
        for env in render.ENVS
    }


@pytest.mark.parametrize("case", QUOTA_CASES, ids=_id)
def test_namespace_fits_its_quota(models, case):
    env, ns, resource = case
    usage = models[env].usages[ns]
    found = [f for f in usage.findings if f.check == "quota" and f.resource == resource]
    assert not found, str(found[0])
    assert usage.required(resource) <= usage.guard.quota[resource]


@pytest.mark.parametrize("case", LIMIT_CASES, ids=lambda c: f"{c[0]}/{c[1]}/limits.{c[2]}")
def test_every_container_fits_the_limitrange(models, case):
    env, ns, kind = case
    found = [
        str(f)
        for f in models[env].usages[ns].findings
        if f.check == "limitrange" and f.resource in (f"limits.{kind}", f"requests.{kind}")
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("env", render.ENVS)
def test_every_namespace_with_pods_is_guarded(models, env):
    """Only kube-system (metrics-server) runs planned pods outside a quota."""
    assert set(models[env].unguarded) <= {"kube-system"}, models[env].unguarded


# The chart versions whose source values/upstream-workloads.yaml was read at (the data file itself may not
# repeat a pin). kube-prometheus-stack includes its pinned dependencies grafana 10.1.4,
# kube-state-metrics 6.4.1, prometheus-node-exporter 4.49.1 and prometheus-operator v0.86.2.
READ_AT = {
    "traefik": "37.3.0",
    "kube-prometheus-stack": "79.5.0",
    "cert-manager": "v1.19.1",
    "metrics-server": "3.13.0",
}


@pytest.mark.parametrize("chart", render.UPSTREAM)
def test_facts_read_at_the_pinned_version(chart):
    assert chart in capacity.chart_facts(REPO), f"values/upstream-workloads.yaml has no entry for {chart}"
    pinned = render.versions()["charts"][chart]["version"]
    assert READ_AT[chart] == pinned, (
        f"values/upstream-workloads.yaml: {chart} facts were read at {READ_AT[chart]} but versions.yaml "
        f"pins {pinned}; re-read the chart's defaults and containers at {pinned}, then update READ_AT"
    )


def test_doc_is_generated_from_the_model(models):
    wanted = capacity.markdown([models[env] for env in render.ENVS])
    current = (REPO / capacity.DOC_FILE).read_text()
    assert current == wanted, (
        "docs/capacity.md is stale: run `.venv/bin/python -m platformctl.app.capacity --write`"
    )


# --- the model detects what breaks a namespace ------------------------------------------------------------


def test_a_values_change_over_the_quota_names_release_namespace_and_resource(models, plans, rendered):
    overrides = {"traefik": {"resources": {"limits": {"cpu": "64"}}}}
    model = capacity.build(
        "staging", plans["staging"], lambda r: rendered[(r.name, "staging")], REPO, overrides
    )
    found = [f for f in model.findings if f.check == "quota"]
    assert [(f.namespace, f.resource, f.release) for f in found] == [("ingress", "limits.cpu", "traefik")]
    assert "limits.cpu needs 192" in found[0].message  # 2 replicas + 1 surge pod at 64 CPU


def test_a_limit_over_the_limitrange_max_is_named(plans, rendered):
    """Issue 13 finding 1: prod Prometheus at 16Gi against the monitoring LimitRange max."""
    spec = {"prometheusSpec": {"resources": {"limits": {"memory": "16Gi"}}}}
    model = capacity.build(
        "prod",
        plans["prod"],
        lambda r: rendered[(r.name, "prod")],
        REPO,
        {"kube-prometheus-stack": {"prometheus": spec}},
    )
    found = [f for f in model.findings if f.check == "limitrange"]
    assert [(f.namespace, f.resource, f.release) for f in found] == [
        ("monitoring", "limits.memory", "kube-prometheus-stack")
    ]
    assert "container prometheus" in found[0].message and "16Gi" in found[0].message


def test_the_hpa_maximum_counts(plans, rendered):
    """Issue 13 finding 2: Traefik's HPA maximum, not its replica count, is what the quota must hold."""
    overrides = {"traefik": {"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 40}}}
    model = capacity.build("prod", plans["prod"], lambda r: rendered[(r.name, "prod")], REPO, overrides)
    ingress = model.usages["ingress"]
    assert ingress.steady["pods"] == 40 and ingress.transient["pods"] == 1
    assert {f.resource for f in ingress.findings} >= {"requests.cpu", "limits.cpu", "pods"}


# --- the model's rules ------------------------------------------------------------------------------------

LR = capacity.LimitRange(
    {"cpu": 50, "memory": 64 * 2**20}, {"cpu": 250, "memory": 256 * 2**20}, {"cpu": 4000}
)


def test_limitrange_defaults_follow_the_api_server():
    bare = capacity.effective(capacity.Container("c", {}, {}), LR)
    assert (bare.requests, bare.limits, bare.defaulted) == (
        {"cpu": 50, "memory": 64 * 2**20},
        {"cpu": 250, "memory": 256 * 2**20},
        True,
    )
    limit_only = capacity.effective(capacity.Container("c", {}, {"cpu": 1000, "memory": 2**30}), LR)
    assert limit_only.requests == {"cpu": 1000, "memory": 2**30} and not limit_only.defaulted
    request_only = capacity.effective(capacity.Container("c", {"memory": 200 * 2**20}, {}), LR)
    assert request_only.requests["memory"] == 200 * 2**20 and request_only.limits["memory"] == 256 * 2**20


def test_a_request_over_the_default_limit_is_refused():
    workload = capacity.Workload(
        "r", "ns", "Deployment/r", (capacity.Container("c", {"cpu": 500}, {}),), 1, 1
    )
    found = capacity.namespace_usage(
        "dev", capacity.Guard("ns", dict.fromkeys(capacity.RESOURCES, 10**12), LR), [workload]
    )
    assert [(f.resource, f.check) for f in found.findings] == [("requests.cpu", "limitrange")]


def test_pod_charge_takes_the_larger_of_containers_and_init_containers():
    containers = (
        capacity.Container("init", {"cpu": 900, "memory": 1}, {"cpu": 900, "memory": 1}, init=True),
        capacity.Container("a", {"cpu": 100, "memory": 10}, {"cpu": 200, "memory": 10}),
        capacity.Container("b", {"cpu": 100, "memory": 10}, {"cpu": 200, "memory": 10}),
    )
    pod = capacity.pod_amounts(capacity.Workload("r", "ns", "StatefulSet/r", containers, 1, 0), LR)
    assert pod == {
        "pods": 1,
        "requests.cpu": 900,
        "limits.cpu": 900,
        "requests.memory": 20,
        "limits.memory": 20,
    }


@pytest.mark.parametrize(
    ("surge", "pods", "expected"), [(1, 10, 1), ("25%", 10, 3), (None, 1, 1), ("50%", 3, 2), (0, 5, 0)]
)
def test_surge_pods(surge, pods, expected):
    assert capacity.surge_pods(surge, pods) == expected


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("cpu", "250m", 250),
        ("cpu", "2", 2000),
        ("cpu", 0.5, 500),
        ("memory", "1Gi", 2**30),
        ("memory", "1G", 10**9),
    ],
)
def test_quantities(kind, text, value):
    assert capacity.parse(kind, text) == value


def test_own_chart_hpa_and_hooks_from_manifests():
    pod = {"containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "1"}}}]}
    docs = [
        {"kind": "Deployment", "metadata": {"name": "w"}, "spec": {"replicas": 3, "template": {"spec": pod}}},
        {
            "kind": "HorizontalPodAutoscaler",
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "w"}, "maxReplicas": 9},
        },
        {
            "kind": "Job",
            "metadata": {"name": "j", "annotations": {"helm.sh/hook": "pre-upgrade"}},
            "spec": {"template": {"spec": pod}},
        },
        {"kind": "Pod", "metadata": {"name": "t", "annotations": {"helm.sh/hook": "test"}}, "spec": pod},
    ]
    found = capacity.from_manifests("rel", "apps", docs, nodes=1)
    assert [(w.name, w.pods, w.surge, w.hpa_max) for w in found] == [
        ("Deployment/w", 9, 3, 9),
        ("Job/j", 0, 1, None),
    ]


def test_daemonset_runs_one_pod_per_node():
    assert capacity.node_count("dev", REPO) == 2  # kind: control plane + one worker
    facts = capacity.chart_facts(REPO)["kube-prometheus-stack"]
    found = capacity.from_values("kps", "monitoring", facts, {}, nodes=7)
    assert next(w for w in found if w.name.endswith("node-exporter")).pods == 7


def test_upstream_release_names_in_the_model_match_the_data(plans):
    upstream = {r.name for plan in plans.values() for r in plan if r.chart_path is None}
    assert upstream <= set(capacity.chart_facts(REPO)), upstream


def test_regenerate_command_writes_the_same_doc():
    """`python -m platformctl.app.capacity` (helm + terraform, no fixture) agrees with the committed doc."""
    assert capacity.main([]) == 0

"""Namespaces: created by platformctl before any Secret, with their Pod Security labels; a rerun changes
nothing; destroy deletes only the ones platformctl made. Against FakeKubeAPI (the kubernetes client talks
HTTP to it); the real API server runs them in the e2e run."""

from __future__ import annotations

import pytest
from platformctl.adapters import kube
from platformctl.app import namespaces, secrets_sync
from platformctl.errors import KubernetesError

PLANNED = ["apps", "data", "monitoring", "kube-system", "apps"]


def _api(kubeconfig) -> namespaces.Namespaces:
    return namespaces.Namespaces(kube.api_client("dev", str(kubeconfig)))


def test_manifests_label_each_planned_namespace_once():
    policy = namespaces.load_policy()
    made = {m["metadata"]["name"]: m["metadata"]["labels"] for m in namespaces.manifests(PLANNED, policy)}
    assert sorted(made) == ["apps", "data", "monitoring"]  # kube-system is the cluster's own
    assert made["apps"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert made["monitoring"]["pod-security.kubernetes.io/enforce"] == policy.pod_security["monitoring"]
    assert {made[n]["pod-security.kubernetes.io/warn"] for n in made} == {"restricted"}
    assert made["data"]["kubernetes.io/metadata.name"] == "data"
    assert made["data"]["app.kubernetes.io/managed-by"] == "platformctl"


def test_secrets_need_their_namespace_first(fake_kube, smap, seeded):
    """The fresh-cluster failure of the old order: a Secret into a missing namespace is refused (404)."""
    api, kubeconfig = fake_kube
    api.strict_namespaces = True
    store = kube.KubeSecrets(kube.api_client("dev", str(kubeconfig)))
    with pytest.raises(KubernetesError, match="HTTP 404"):
        secrets_sync.sync(seeded, store, smap)
    namespaces.ensure(_api(kubeconfig), [s.namespace for s in smap.secrets.values()])
    results = secrets_sync.sync(seeded, store, smap)
    assert results and all(r.changed for r in results)


def test_rerun_changes_nothing_and_destroy_deletes_only_ours(fake_kube):
    api, kubeconfig = fake_kube
    first = namespaces.ensure(_api(kubeconfig), PLANNED)
    assert [(o.name, o.action) for o in first] == [
        ("apps", "created"),
        ("data", "created"),
        ("monitoring", "created"),
    ]
    applies = len(api.applies)
    second = namespaces.ensure(_api(kubeconfig), PLANNED)
    assert {o.action for o in second} == {"unchanged"}
    assert len(api.applies) == applies  # nothing sent at all
    api.namespaces["data"]["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "someone-else"
    gone = namespaces.remove(_api(kubeconfig), PLANNED, timeout=10)
    assert {o.name: o.action for o in gone} == {
        "apps": "deleted",
        "data": "not ours",
        "monitoring": "deleted",
    }
    assert sorted(api.namespaces) == ["data"]


def test_dry_run_sends_nothing(fake_kube):
    api, kubeconfig = fake_kube
    outcomes = namespaces.ensure(_api(kubeconfig), PLANNED, dry_run=True)
    assert {o.action for o in outcomes} == {"created"}
    assert api.namespaces == {}

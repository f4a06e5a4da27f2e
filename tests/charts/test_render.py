"""Render every chart x env with the real helm; validate the objects for each Kubernetes version."""

from __future__ import annotations

import pytest

from tools.charts import render
from tools.charts.validate import CUSTOM_KINDS, kind_of, validate_object

KUBE = render.versions()["kubernetes"]

# Group/versions served by Kubernetes 1.20 that the charts may use there (plus the CRD groups).
HARNESS_APIS = {
    "v1",
    "apps/v1",
    "batch/v1",
    "batch/v1beta1",  # CronJob: batch/v1 only from 1.21
    "networking.k8s.io/v1",
    "storage.k8s.io/v1",  # StorageClass: GA since 1.6
    "policy/v1beta1",
    "autoscaling/v2beta2",
    "monitoring.coreos.com/v1",
    "traefik.io/v1alpha1",
    "cert-manager.io/v1",
}


def test_every_release_and_env_renders(rendered):
    assert set(rendered) == {(r.name, e) for r in render.RELEASES for e in render.ENVS}
    empty = [key for key, objs in rendered.items() if not objs]
    assert not empty, f"nothing rendered for {empty}"


@pytest.mark.parametrize("kube_version", KUBE["validate"])
def test_objects_valid_for_kubernetes_version(all_objects, kube_version):
    errors = []
    for rel, env, obj in all_objects:
        try:
            validate_object(obj, kube_version)
        except Exception as exc:  # every failure is reported, not just the first
            errors.append(f"{rel}/{env} {obj['kind']}/{obj['metadata']['name']}: {exc}")
    assert not errors, "\n".join(errors[:20])


def test_custom_resources_are_rendered_and_checked(all_objects):
    kinds = {kind_of(obj) for _, _, obj in all_objects}
    assert kinds & CUSTOM_KINDS == CUSTOM_KINDS


def test_invalid_object_is_rejected():
    """The validator really validates: a Deployment with an unknown field fails in strict mode."""
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {"replicaz": 1}}
    with pytest.raises(Exception, match="replicaz"):
        validate_object(bad, KUBE["validate"][0])


def test_harness_render_uses_only_1_20_apis(rendered_harness):
    used = {obj["apiVersion"] for objs in rendered_harness.values() for obj in objs}
    assert used <= HARNESS_APIS, f"not served by {KUBE['harness']}: {sorted(used - HARNESS_APIS)}"


def _api_of(docs: list[dict], kind: str) -> set[str]:
    return {o["apiVersion"] for o in docs if o["kind"] == kind}


def test_capability_switches(rendered, rendered_harness):
    prod, harness = rendered[("users", "prod")], rendered_harness[("users", "prod")]
    assert _api_of(prod, "HorizontalPodAutoscaler") == {"autoscaling/v2"}
    assert _api_of(harness, "HorizontalPodAutoscaler") == {"autoscaling/v2beta2"}
    assert _api_of(prod, "PodDisruptionBudget") == {"policy/v1"}
    assert _api_of(harness, "PodDisruptionBudget") == {"policy/v1beta1"}
    assert _api_of(rendered_harness[("minio", "staging")], "PodDisruptionBudget") == {"policy/v1beta1"}


def test_monitoring_objects_follow_the_api(tmp_path):
    """Without the monitoring API the ServiceMonitor is left out, unless `serviceMonitor.force` is set."""
    rel = render.release("users")
    plain = render.render(rel, "dev", crds=False)
    forced = render.render(rel, "dev", crds=False, extra=["--set", "serviceMonitor.force=true"])
    assert "ServiceMonitor" not in {o["kind"] for o in plain}
    assert "ServiceMonitor" in {o["kind"] for o in forced}
    platform = render.render(render.release("platform"), "dev", crds=False)
    assert not {"PrometheusRule", "Middleware"} & {o["kind"] for o in platform}


@pytest.mark.parametrize("rel", render.RELEASES, ids=lambda r: r.name)
def test_helm_lint_strict(rel):
    for env in render.ENVS:
        args = [
            render.helm(),
            "lint",
            "--strict",
            str(render.CHARTS / rel.chart),
            "--namespace",
            rel.namespace,
        ]
        for path in render.values_files(rel, env):
            args += ["-f", str(path)]
        args += render.image_args(rel)
        out = render.run_helm(args)
        assert "0 chart(s) failed" in out, out

"""The secret map against the real values and the real helm render: every planned release of every env
names exactly the Secrets values/secrets-map.yaml gives it, and the mounts generated from the map render
the same pods the hand-written values did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from platformctl.adapters.vault import Entry
from platformctl.app import render as platform_render
from platformctl.app import values
from platformctl.config import secret_map, versions
from platformctl.config.release import Release

from tests.unit.test_secret_mounts import BEFORE
from tools.charts import render

REPO = render.REPO
E2E_VALUES = "tools/e2e/values"


@pytest.mark.parametrize("env", render.ENVS)
def test_every_planned_release_names_exactly_its_secrets(
    env_plans: dict[str, list[Release]], env: str
) -> None:
    """`platformctl values`' checks over the committed values files (and, in dev, the e2e site overlay):
    no release names a Secret the map does not give it, none misses one it does; nothing is written."""
    smap = secret_map.load()
    entries = {p: Entry(p, {k: "not-a-secret" for k in keys}, 1) for p, keys in smap.vault.items()}
    images = values.pinned_images(versions.load(REPO / "versions.yaml"))
    plan = list(env_plans[env])
    if env == "dev":  # the e2e run layers tools/e2e/values after the generated values
        plan += [
            Release(r.name, r.namespace, r.chart_path, (*r.values_files, f"{E2E_VALUES}/{r.name}.yaml"))
            for r in env_plans[env]
            if (REPO / E2E_VALUES / f"{r.name}.yaml").is_file()
        ]
    for release in plan:
        target, _ = values.render(release, smap, entries, images, REPO)
        assert not target.exists(), target
    for release in env_plans[env]:
        for name in smap.secrets_for(release.name):
            assert smap.secrets[name].namespace == release.namespace, f"{env}: {release.name} reads {name}"


def _pod_secrets(docs: list[dict[str, Any]]) -> set[str]:
    """Secrets the pods of a render read: volumes (projected too), env and envFrom."""
    found: set[str] = set()
    for obj in docs:
        spec = obj.get("spec", {})
        if obj["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        pod = spec.get("template", {}).get("spec")
        if not pod:
            continue
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                found.add(volume["secret"]["secretName"])
            for source in volume.get("projected", {}).get("sources", []):
                if "secret" in source:
                    found.add(source["secret"]["name"])
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            for env in container.get("env", []):
                if "secretKeyRef" in env.get("valueFrom", {}):
                    found.add(env["valueFrom"]["secretKeyRef"]["name"])
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    found.add(source["secretRef"]["name"])
    return found


def test_rendered_pods_read_exactly_the_secrets_of_the_map(
    rendered: dict[tuple[str, str], list[dict]],
) -> None:
    """helm's own output, every own release and env: the Secrets its pods read are its Secrets in the map."""
    smap = secret_map.load()
    for (name, env), docs in rendered.items():
        assert _pod_secrets(docs) == set(smap.secrets_for(name)), f"{name}/{env}"


def _volumes(names: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, volumeMounts) the hand-written secretMounts rendered (the chart's tmp first)."""
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    for name in names:
        volumes.append({"name": f"secret-{name}", "secret": {"secretName": name, "defaultMode": 0o440}})
        mounts.append(
            {"name": f"secret-{name}", "mountPath": f"/var/run/secrets/platform/{name}", "readOnly": True}
        )
    return volumes, mounts


# The Secrets the pods and the migration Job mounted, in order, as rendered before the map described them.
RENDERED_BEFORE = {
    "users": (["users-db", "rabbitmq-app"], ["users-db", "users-admin"]),
    "auth": (["auth-jwt-keys"], None),
    "notifications": (["rabbitmq-app", "notifications-s3"], None),
}


@pytest.mark.parametrize("name", sorted(RENDERED_BEFORE))
def test_generated_mounts_render_the_same_pods_as_before(
    rendered: dict[tuple[str, str], list[dict]], name: str
) -> None:
    """dev, staging, prod: the Deployment's and the Job's volumes and mounts, in order, and the *_FILE
    settings (ConfigMap and the Job's inlined env) are what the hand-written values rendered."""
    pods, job = RENDERED_BEFORE[name]
    for env in render.ENVS:
        docs = {o["kind"]: o for o in rendered[(name, env)]}
        for kind, names in (("Deployment", pods), ("Job", job)):
            if names is None:
                assert kind not in docs, f"{name}/{env}"
                continue
            pod = docs[kind]["spec"]["template"]["spec"]
            assert (pod["volumes"], pod["containers"][0]["volumeMounts"]) == _volumes(names), f"{name}/{env}"
        config = docs["ConfigMap"]["data"]
        files = {key: value for key, value in config.items() if key.endswith("_FILE")}
        assert files == BEFORE[name]["settings"], f"{name}/{env}"
        if job:
            env_of_job = {
                e["name"]: e["value"] for e in docs["Job"]["spec"]["template"]["spec"]["containers"][0]["env"]
            }
            assert env_of_job == config, f"{name}/{env}"


def test_render_helper_layers_the_map_mounts_after_the_fixture() -> None:
    """tools/charts/render.py gives the charts what `platformctl values` would: the mounts from the map."""
    files = render.values_files(render.release("users"), "dev")
    generated = [values.load_yaml(Path(f)) for f in files[2:]]
    merged: dict[str, Any] = {}
    for data in generated:
        merged = values.merge(merged, data)
    assert merged["secretMounts"] == BEFORE["users"]["secretMounts"]
    assert len(merged["secretChecksum"]) == 64


@pytest.mark.parametrize("name", ["users", "notifications"])
def test_platformctl_render_without_generated_values_mounts_the_map_secrets(
    rendered: dict[tuple[str, str], list[dict]], name: str
) -> None:
    """`platformctl render` (and helm lint, the capacity and alerting models) before `platformctl values`
    has run: the pods still get the map's mounts and *_FILE settings, as the generated values would."""
    rel = render.release(name)
    files = (f"values/common/{name}.yaml", f"values/dev/{name}.yaml", f"values/generated/absent/{name}.yaml")
    release = Release(name, rel.namespace, f"charts/{rel.chart}", files)
    without = {o["kind"]: o for o in platform_render.manifests(release, REPO)}
    fixture = {o["kind"]: o for o in rendered[(name, "dev")]}
    for kind in ("Deployment", "Job"):
        if kind in fixture:
            assert without[kind]["spec"]["template"]["spec"] == fixture[kind]["spec"]["template"]["spec"], (
                kind
            )
    assert without["ConfigMap"]["data"] == fixture["ConfigMap"]["data"]

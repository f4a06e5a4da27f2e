"""Tests of the e2e driver: its pure helpers always, the full run only on a live harness.

Not part of `make test` (pyproject's norecursedirs); run with `.venv/bin/pytest tests/e2e`. The full run
needs `source <harness home>/env` (KUBECONFIG + DOCKER_HOST) and takes about 3 minutes.
"""

from __future__ import annotations

import os
import re

import pytest
from platformctl.paths import repo_root

from tests.e2e import deploy, images
from tests.e2e.cluster import namespace_manifests
from tests.e2e.releases import OWN_SKIP, UPSTREAM_SKIP, Planned, values_for

ROOT = repo_root()


def test_namespaces_carry_the_platform_module_labels():
    main_tf = (ROOT / "terraform/modules/platform/main.tf").read_text()
    module_keys = set(re.findall(r'"([a-z0-9./-]+)"\s*=', main_tf.split("labels = {", 1)[1].split("}", 1)[0]))
    manifests = {m["metadata"]["name"]: m["metadata"]["labels"] for m in namespace_manifests(
        ["apps", "data", "monitoring", "kube-system", "default"], ROOT)}  # fmt: skip
    assert sorted(manifests) == ["apps", "data", "monitoring"]  # unmanaged ones are left alone
    assert module_keys <= set(manifests["apps"])
    assert manifests["apps"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert manifests["monitoring"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert manifests["data"]["kubernetes.io/metadata.name"] == "data"


def test_e2e_values_are_layered_last(tmp_path):
    (tmp_path / "common.yaml").write_text(
        "image: {repository: postgres, tag: '1', pullPolicy: IfNotPresent}\n"
    )
    release = Planned("postgresql", "data", 2, "charts/postgresql", ("common.yaml", "missing.yaml"), 600)
    merged = values_for(release, tmp_path)
    assert merged["image"] == {"repository": "e2e/postgresql", "tag": "debian-15", "pullPolicy": "Never"}


def test_skips_upstream_charts_and_minio_only():
    own = Planned("users", "apps", 3, "charts/microservice", (), 300)
    upstream = Planned("traefik", "ingress", 0, None, (), 300)
    minio = Planned("minio", "data", 2, "charts/minio", (), 600)
    assert own.skip_reason is None
    assert upstream.skip_reason == UPSTREAM_SKIP
    assert minio.skip_reason == OWN_SKIP["minio"]


def test_stand_in_images_never_use_official_names():
    tags = [b.tag for b in images.plan_builds(ROOT, deploy.versions.load())]
    assert all(t.startswith(("e2e/", "platform/")) for t in tags)
    assert all(not t.endswith(":latest") for t in tags)


@pytest.mark.slow
@pytest.mark.skipif(
    not (os.environ.get("KUBECONFIG") and os.environ.get("DOCKER_HOST")),
    reason="needs the k8s harness: `source <harness home>/env`",
)
def test_full_run_on_the_harness(capsys):
    """Builds, deploys, runs the seed flow and removes everything again (real cluster, real images)."""
    assert deploy.main(["all", "--pods-timeout", "300"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("S3 write with a wrong secret key") and "refused" in line for line in lines)
    assert not (ROOT / ".state" / "e2e" / "vault-dev.log").exists()  # held the dev root token

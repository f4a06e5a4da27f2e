"""Namespaces have one owner, platformctl: Terraform neither creates nor labels them.

They must exist before `platformctl secrets sync` writes the first Secret, i.e. before stacks/platform
runs, so the facts Terraform used to hold live in values/namespaces.yaml where Python reads them.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.terraform.test_release_plan import read_plan
from tests.terraform.tfkit import (
    REPO_ROOT,
    TERRAFORM_DIR,
    blocks,
    parse_hcl,
    resources,
    terraform_folders,
    unwrap,
    where,
)

POLICY = REPO_ROOT / "values" / "namespaces.yaml"


def test_policy_file_shape() -> None:
    text = POLICY.read_text()
    assert text.startswith("# "), f"{where(POLICY)}: starts with a comment saying who creates namespaces"
    data = yaml.safe_load(text)
    assert set(data) == {"unmanaged", "pod_security"}, f"{where(POLICY)}: keys {sorted(data)}"
    assert data["unmanaged"] == ["kube-system", "default"]
    assert data["pod_security"] == {"monitoring": "privileged"}, (
        "node-exporter needs hostNetwork, hostPID and hostPath: monitoring is the one exception"
    )


def test_policy_names_planned_namespaces(tmp_path: Path) -> None:
    data = yaml.safe_load(POLICY.read_text())
    planned = {r["namespace"] for r in read_plan(tmp_path, "prod") + read_plan(tmp_path / "dev", "dev")}
    assert set(data["pod_security"]) <= planned - set(data["unmanaged"]), (
        f"{where(POLICY)}: pod_security names namespaces no release installs into"
    )


def test_terraform_creates_no_namespace() -> None:
    for folder in terraform_folders():
        assert not resources(folder, "kubernetes_namespace_v1"), (
            f"{where(folder)}: namespaces belong to platformctl"
        )
        assert not resources(folder, "kubernetes_namespace"), (
            f"{where(folder)}: namespaces belong to platformctl"
        )
        for path in sorted(folder.glob("*.tf")):
            text = path.read_text()
            assert "pod-security.kubernetes.io" not in text, (
                f"{where(path)}: Pod Security labels are platformctl's"
            )
            assert 'provider "kubernetes"' not in text, f"{where(path)}: the kubernetes provider is not used"
            for block in parse_hcl(path).get("terraform", []):
                for entry in block.get("required_providers", []):
                    assert "kubernetes" not in entry, f"{where(path)}: requires the kubernetes provider"


def test_platform_module_forgets_old_namespaces_without_deleting_them() -> None:
    """States written before platformctl owned namespaces hold them; deleting a namespace would delete
    every release in it, so the module must say `removed { destroy = false }`."""
    found = [
        b
        for path in sorted((TERRAFORM_DIR / "modules" / "platform").glob("*.tf"))
        for b in parse_hcl(path).get("removed", [])
    ]
    assert any(
        unwrap(b["from"]) == "kubernetes_namespace_v1.this" and b["lifecycle"][0]["destroy"] is False
        for b in found
    ), f"modules/platform: no `removed {{ from = kubernetes_namespace_v1.this, destroy = false }}`: {found}"


def test_no_release_creates_its_namespace() -> None:
    count = 0
    for folder in terraform_folders():
        for path, name, attrs in resources(folder, "helm_release"):
            count += 1
            assert attrs.get("create_namespace") is False, (
                f"{where(path)}: helm_release.{name} create_namespace"
            )
    assert count


def test_stack_outputs_the_namespaces_platformctl_must_create() -> None:
    outputs = {name: body for _, name, body in blocks(TERRAFORM_DIR / "stacks" / "platform", "output")}
    assert unwrap(outputs["namespaces"]["value"]) == "module.release_plan.namespaces"

"""Static checks of every Terraform folder, parsed with python-hcl2.

The stacks and modules that need the helm, kubernetes or kind providers cannot be initialised on this
machine, so their structure is checked here; each failure names the file and the problem.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.terraform.tfkit import (
    MODULES,
    REPO_ROOT,
    STACKS,
    TERRAFORM_DIR,
    blocks,
    parse_hcl,
    resources,
    terraform_folders,
    terraform_tree,
    tf_files,
    unwrap,
    versions,
    where,
)

FOLDERS = [TERRAFORM_DIR / "modules" / m for m in MODULES] + [TERRAFORM_DIR / "stacks" / s for s in STACKS]
FOLDER_IDS = [where(f) for f in FOLDERS]
HELM_FORBIDDEN = ("set", "set_sensitive", "set_list", "set_wo")


@pytest.mark.parametrize("folder", FOLDERS, ids=FOLDER_IDS)
def test_layout(folder: Path) -> None:
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (folder / name).is_file(), f"{where(folder)}: missing {name}"


@pytest.mark.parametrize("folder", FOLDERS, ids=FOLDER_IDS)
def test_variables_typed_and_described(folder: Path) -> None:
    for path, name, body in blocks(folder, "variable"):
        assert "type" in body, f"{where(path)}: variable {name} has no type"
        assert str(body.get("description", "")).strip(), f"{where(path)}: variable {name} has no description"
        if folder.parent.name == "modules" and unwrap(body["type"]) in {"string", "number"}:
            assert body.get("validation"), (
                f"{where(path)}: variable {name} ({body['type']}) has no validation"
            )


@pytest.mark.parametrize("folder", FOLDERS, ids=FOLDER_IDS)
def test_outputs_described(folder: Path) -> None:
    for path, name, body in blocks(folder, "output"):
        assert str(body.get("description", "")).strip(), f"{where(path)}: output {name} has no description"
        if name == "kubeconfig":
            assert body.get("sensitive") is True, f"{where(path)}: output kubeconfig must be sensitive"


def test_cluster_modules_share_outputs() -> None:
    kind = {name for _, name, _ in blocks(TERRAFORM_DIR / "modules" / "cluster-kind", "output")}
    eks = {name for _, name, _ in blocks(TERRAFORM_DIR / "modules" / "cluster-eks", "output")}
    assert kind <= eks, f"modules/cluster-eks lacks outputs of cluster-kind: {sorted(kind - eks)}"
    assert {"kubeconfig", "endpoint", "cluster_name"} <= kind


def _versions_files() -> list[Path]:
    return [f / "versions.tf" for f in FOLDERS] + [REPO_ROOT / "tests/terraform/fixtures/eks-root/main.tf"]


def _provider_pins() -> dict[str, list[tuple[str, str]]]:
    """provider source -> [(file, version constraint)] over every versions.tf (and the EKS fixture)."""
    pins: dict[str, list[tuple[str, str]]] = {}
    for path in _versions_files():
        for block in parse_hcl(path).get("terraform", []):
            for entry in block.get("required_providers", []):
                for spec in entry.values():
                    pins.setdefault(spec["source"], []).append((where(path), spec["version"]))
    return pins


@pytest.mark.parametrize("path", _versions_files(), ids=lambda p: where(p))
def test_required_version_from_versions_yaml(path: Path) -> None:
    minimum = versions()["tools"]["terraform"]["minimum"]
    for block in parse_hcl(path).get("terraform", []):
        if "required_version" in block:
            assert block["required_version"] == f">= {minimum}", (
                f"{where(path)}: required_version != >= {minimum}"
            )


def test_provider_versions_exact_and_consistent() -> None:
    """Terraform cannot read versions.yaml inside required_providers, so each provider is pinned exactly,
    with the same version in every file, equal to versions.yaml `terraform_providers:`."""
    central = versions()["terraform_providers"]
    for source, uses in _provider_pins().items():
        found = {version for _, version in uses}
        assert len(found) == 1, f"provider {source} pinned differently: {uses}"
        version = found.pop()
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"provider {source} not an exact pin: {uses}"
        assert central.get(source) == version, (
            f"provider {source} {version} != versions.yaml terraform_providers {central.get(source)}"
        )
    assert set(_provider_pins()) == set(central), "versions.yaml terraform_providers lists unused providers"


def test_helm_provider_has_the_apply_consistency_fix() -> None:
    """hashicorp/helm 3.1.1 fixed "Provider produced inconsistent result after apply" when a local
    chart's version is bumped (CHANGELOG.md of tag v3.1.2, section 3.1.1: GH-1713); every own chart is
    local, so anything older breaks the apply after a chart version bump."""
    pinned = versions()["terraform_providers"]["hashicorp/helm"]
    assert tuple(int(p) for p in pinned.split(".")) >= (3, 1, 1), f"hashicorp/helm {pinned} < 3.1.1"


@pytest.mark.parametrize("module", MODULES)
def test_modules_configure_no_provider(module: Path) -> None:
    for path in tf_files(TERRAFORM_DIR / "modules" / module):
        assert "provider" not in parse_hcl(path), f"{where(path)}: modules take providers from the caller"


def test_every_helm_release_is_atomic_with_timeout() -> None:
    found = 0
    for folder in terraform_folders():
        sensitive = {name for _, name, body in blocks(folder, "variable") if body.get("sensitive") is True}
        for path, name, attrs in resources(folder, "helm_release"):
            found += 1
            label = f"{where(path)}: helm_release.{name}"
            for flag in ("atomic", "wait", "cleanup_on_fail"):
                assert attrs.get(flag) is True, f"{label}: {flag} must be true"
            for needed in ("timeout", "max_history"):
                assert needed in attrs, f"{label}: no {needed}"
            for forbidden in HELM_FORBIDDEN:
                assert forbidden not in attrs, (
                    f"{label}: `{forbidden}` passes values through Terraform; use values files"
                )
            values = str(attrs.get("values", ""))
            assert "sensitive(" not in values, f"{label}: values must not carry sensitive data"
            for var in sensitive:
                assert f"var.{var}" not in values, f"{label}: sensitive variable {var} passed into values"
    assert found, "no helm_release found under terraform/"


def test_platform_values_come_only_from_files() -> None:
    folder = TERRAFORM_DIR / "modules" / "platform"
    local_values = next(b for p in tf_files(folder) for b in parse_hcl(p).get("locals", []) if "values" in b)
    expr = unwrap(local_values["values"])
    assert "file(" in expr and "var." not in expr.replace("var.releases", ""), (
        f"{where(folder / 'main.tf')}: local.values must read values files only, got {expr}"
    )
    for path, name, body in blocks(folder, "variable"):
        assert body.get("sensitive") is not True, (
            f"{where(path)}: {name} is sensitive; no secret may enter platform"
        )


def _wave_blocks() -> dict[str, int]:
    """helm_release block name -> the wave its for_each selects."""
    waves = {}
    for path, name, attrs in resources(TERRAFORM_DIR / "modules" / "platform", "helm_release"):
        match = re.fullmatch(r"local\.by_wave\[(\d+)\]", unwrap(attrs.get("for_each", "")))
        assert match, f"{where(path)}: helm_release.{name} must iterate over local.by_wave[N]"
        waves[name] = int(match.group(1))
    return waves


def test_each_planned_release_has_exactly_one_helm_release(tmp_path: Path) -> None:
    from tests.terraform.test_release_plan import read_plan

    waves = _wave_blocks()
    planned = read_plan(tmp_path, "prod") + [r for r in read_plan(tmp_path / "dev", "dev") if r["wave"] == 0]
    for release in planned:
        owners = [name for name, wave in waves.items() if wave == release["wave"]]
        assert len(owners) == 1, (
            f"release {release['name']} (wave {release['wave']}) has helm_release blocks {owners}"
        )
    main = parse_hcl(TERRAFORM_DIR / "modules" / "platform" / "main.tf")
    by_wave = unwrap(next(b["by_wave"] for b in main["locals"] if "by_wave" in b))
    assert "r.name => r if r.wave == wave" in by_wave, (
        f"by_wave must key releases by name per wave: {by_wave}"
    )


def test_waves_run_in_order() -> None:
    waves = _wave_blocks()
    variables = (TERRAFORM_DIR / "modules" / "platform" / "variables.tf").read_text()
    allowed = re.search(r"contains\(\[([\d, ]+)\], r\.wave\)", variables)
    assert allowed, "modules/platform/variables.tf: releases validation must list the allowed waves"
    assert sorted(int(w) for w in allowed.group(1).split(",")) == sorted(waves.values())
    assert sorted(waves.values()) == list(range(len(waves))), f"waves must be 0..N-1: {waves}"
    main = parse_hcl(TERRAFORM_DIR / "modules" / "platform" / "main.tf")
    by_wave = unwrap(next(b["by_wave"] for b in main["locals"] if "by_wave" in b))
    assert f"range({len(waves)})" in by_wave, f"by_wave must cover the {len(waves)} blocks: {by_wave}"
    for path, name, attrs in resources(TERRAFORM_DIR / "modules" / "platform", "helm_release"):
        wave = waves[name]
        # Wave 0 waits for nothing Terraform owns: platformctl creates the namespaces before the stack runs.
        expected = [] if wave == 0 else [f"helm_release.wave_{wave - 1}"]
        assert [unwrap(d) for d in attrs.get("depends_on", [])] == expected, (
            f"{where(path)}: helm_release.{name} must depend on {expected}"
        )


def test_no_version_repeated_from_versions_yaml() -> None:
    pins = [c["version"] for c in versions()["charts"].values()] + [
        versions()["kubernetes"]["kind_node_image"]
    ]
    for path in terraform_tree((".tf", ".tfvars", ".hcl")):
        text = path.read_text()
        for pin in pins:
            assert f'"{pin}"' not in text, f"{where(path)}: repeats {pin}; read it from versions.yaml"
    cluster_main = (TERRAFORM_DIR / "stacks" / "cluster" / "main.tf").read_text()
    assert "versions.yaml" in cluster_main and "kind_node_image" in cluster_main


def test_cluster_stack_picks_kind_or_eks() -> None:
    modules = {name: body for _, name, body in blocks(TERRAFORM_DIR / "stacks" / "cluster", "module")}
    assert unwrap(modules["kind"]["count"]) == "local.is_eks ? 0 : 1", (
        "stacks/cluster: kind only when not eks"
    )
    assert unwrap(modules["eks"]["count"]) == "local.is_eks ? 1 : 0", "stacks/cluster: eks only when eks"
    assert modules["kind"]["source"] == "../../modules/cluster-kind"
    assert modules["eks"]["source"] == "../../modules/cluster-eks"

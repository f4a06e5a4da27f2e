"""cluster-eks with the real terraform and the real hashicorp/aws provider from the local mirror.

`init` installs the provider from the filesystem mirror only; `plan` runs with dummy credentials, the
provider's skip_* settings and an HTTPS proxy that refuses every connection, so a plan that tried to
call AWS would fail instead of silently needing the network.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from platformctl.app import images

from tests.fixtures.servers import free_port
from tests.terraform.tfkit import REPO_ROOT, TERRAFORM_DIR, blocks, run_tf, terraform_env, unwrap, versions

FIXTURE = REPO_ROOT / "tests" / "terraform" / "fixtures" / "eks-root"


def k8s_minor() -> str:
    image = versions()["kubernetes"]["kind_node_image"]
    match = re.match(r"^kindest/node:v(\d+\.\d+)\.", image)
    assert match, f"versions.yaml kubernetes.kind_node_image is not kindest/node:vX.Y.Z: {image}"
    return match.group(1)


def own_image_repositories() -> list[str]:
    """versions.yaml `images.<name>.repository` of every image built here (images.is_own_image)."""
    return [
        image["repository"]
        for name, image in versions()["images"].items()
        if images.is_own_image(REPO_ROOT / "services", name)
    ]


@pytest.fixture(scope="module")
def eks_plan(tmp_path_factory: pytest.TempPathFactory, aws_mirror: Path) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("eks")
    root = work / "root"
    shutil.copytree(FIXTURE, root)
    shutil.copytree(TERRAFORM_DIR / "modules" / "cluster-eks", root / "modules" / "cluster-eks")
    env = terraform_env(work / "tf", mirror=aws_mirror)
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    env.update(
        AWS_ACCESS_KEY_ID="dummy-test-key",  # placeholder, not a credential
        AWS_SECRET_ACCESS_KEY="dummy-test-secret",  # placeholder, not a credential
        AWS_EC2_METADATA_DISABLED="true",
        HTTPS_PROXY=dead_proxy,
        HTTP_PROXY=dead_proxy,
        NO_PROXY="",
    )
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        env.pop(key, None)
    run_tf(["init", "-input=false", "-backend=false"], root, env)
    run_tf(["validate"], root, env)
    plan_file = work / "eks.tfplan"
    run_tf(
        [
            "plan",
            "-input=false",
            "-lock=false",
            f"-var=kubernetes_version={k8s_minor()}",
            f"-var=ebs_csi_driver_version={versions()['eks_addons']['aws-ebs-csi-driver']}",
            f"-var=image_repository_names={json.dumps(own_image_repositories())}",
            f"-out={plan_file}",
        ],
        root,
        env,
    )
    shown = run_tf(["show", "-json", str(plan_file)], root, env)
    return dict(json.loads(shown.stdout))


def _created(plan: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [
        rc
        for rc in plan["resource_changes"]
        if rc["type"] == rtype and rc["mode"] == "managed" and rc["change"]["actions"] == ["create"]
    ]


def _after(plan: dict[str, Any], rtype: str) -> dict[str, Any]:
    found = _created(plan, rtype)
    assert len(found) == 1, f"expected one {rtype} in the plan, found {len(found)}"
    return dict(found[0]["change"]["after"])


def test_plan_lists_cluster_node_group_kms_and_subnets(eks_plan: dict[str, Any]) -> None:
    assert len(_created(eks_plan, "aws_eks_cluster")) == 1
    assert len(_created(eks_plan, "aws_eks_node_group")) == 1
    assert len(_created(eks_plan, "aws_kms_key")) == 1
    subnets = _created(eks_plan, "aws_subnet")
    assert len(subnets) == 6, "one public and one private subnet per each of the three AZs"
    assert {s["change"]["after"]["availability_zone"] for s in subnets} == {
        "eu-west-1a",
        "eu-west-1b",
        "eu-west-1c",
    }
    assert not any(s["change"]["after"]["map_public_ip_on_launch"] for s in subnets)


def test_cluster_encrypts_secrets_logs_and_pins_version(eks_plan: dict[str, Any]) -> None:
    cluster = _after(eks_plan, "aws_eks_cluster")
    assert cluster["version"] == k8s_minor()
    assert cluster["encryption_config"][0]["resources"] == ["secrets"]
    assert set(cluster["enabled_cluster_log_types"]) == {
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    }
    vpc = cluster["vpc_config"][0]
    assert vpc["endpoint_private_access"] is True
    assert vpc["endpoint_public_access"] is True and vpc["public_access_cidrs"] == ["203.0.113.0/24"]
    assert _after(eks_plan, "aws_kms_key")["enable_key_rotation"] is True


def test_node_group_sizes_and_irsa(eks_plan: dict[str, Any]) -> None:
    scaling = _after(eks_plan, "aws_eks_node_group")["scaling_config"][0]
    assert (scaling["min_size"], scaling["desired_size"], scaling["max_size"]) == (2, 3, 5)
    oidc = _after(eks_plan, "aws_iam_openid_connect_provider")
    assert oidc["client_id_list"] == ["sts.amazonaws.com"]


def test_own_images_are_the_three_services_and_the_backup_runner() -> None:
    assert own_image_repositories() == [
        "platform/users",
        "platform/auth",
        "platform/notifications",
        "platform/pgbackup",
    ]


def test_registry_has_one_immutable_scanned_encrypted_repository_per_service(
    eks_plan: dict[str, Any],
) -> None:
    repos = {r["change"]["after"]["name"]: r["change"] for r in _created(eks_plan, "aws_ecr_repository")}
    assert sorted(repos) == sorted(own_image_repositories())
    for name, change in repos.items():
        after = change["after"]
        assert after["image_tag_mutability"] == "IMMUTABLE", name
        assert after["image_scanning_configuration"] == [{"scan_on_push": True}], name
        assert after["encryption_configuration"][0]["encryption_type"] == "KMS", name
        assert change["after_unknown"]["encryption_configuration"][0]["kms_key"] is True, (
            f"{name}: encrypted with the module's key (known after apply)"
        )
        assert after["force_delete"] is False, f"{name}: destroying must not silently drop images"
    policies = [p["change"]["after"] for p in _created(eks_plan, "aws_ecr_lifecycle_policy")]
    assert sorted(p["repository"] for p in policies) == sorted(own_image_repositories())
    for policy in policies:
        (rule,) = json.loads(policy["policy"])["rules"]
        assert rule["selection"]["countType"] == "imageCountMoreThan" and rule["action"]["type"] == "expire"
        assert rule["selection"]["countNumber"] == 30, "keeps the last 30 images by default"


def test_nodes_may_pull_from_the_registry(eks_plan: dict[str, Any]) -> None:
    arns = [a["change"]["after"]["policy_arn"] for a in _created(eks_plan, "aws_iam_role_policy_attachment")]
    assert "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly" in arns, arns


def test_registry_outputs(eks_plan: dict[str, Any]) -> None:
    outputs = eks_plan["output_changes"]
    assert outputs["image_registry"]["after_unknown"] is True, "account ID is known after apply"
    assert set(outputs["image_repositories"]["after_unknown"]) == set(own_image_repositories())


def test_cluster_stack_passes_and_outputs_the_registry() -> None:
    stack = TERRAFORM_DIR / "stacks" / "cluster"
    main = (stack / "main.tf").read_text()
    assert 'fileexists("${path.root}/../../../services/${name}/constraints.txt")' in main, (
        "stacks/cluster: own images are those with services/<name>/Dockerfile"
    )
    eks = next(body for _, name, body in blocks(stack, "module") if name == "eks")
    assert unwrap(eks["image_repository_names"]) == "local.own_image_repositories"
    outputs = {name: unwrap(body["value"]) for _, name, body in blocks(stack, "output")}
    assert outputs["image_registry"] == "one(module.eks[*].image_registry)", outputs["image_registry"]
    assert outputs["image_repositories"] == "local.is_eks ? module.eks[0].image_repositories : {}", outputs[
        "image_repositories"
    ]


# --- EBS CSI driver add-on with IRSA (issue 13) ------------------------------------------------------------
# aws_eks_addon as hashicorp/aws 5.100.0 (the versions.yaml pin) defines it, read from the provider binary
# in the mirror (`terraform providers schema -json`): addon_name, cluster_name required; addon_version,
# service_account_role_arn, resolve_conflicts_on_create (NONE | OVERWRITE) and resolve_conflicts_on_update
# (NONE | OVERWRITE | PRESERVE) optional; the older `resolve_conflicts` is deprecated there.

EBS_CSI_SA = "system:serviceaccount:kube-system:ebs-csi-controller-sa"


def _module_config(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The cluster-eks module's resources and data sources from the plan's configuration, by address."""
    module = plan["configuration"]["root_module"]["module_calls"]["eks"]["module"]
    return {r["address"]: r for r in module["resources"]}


def test_plan_creates_the_ebs_csi_addon_pinned_with_its_irsa_role(eks_plan: dict[str, Any]) -> None:
    (addon,) = _created(eks_plan, "aws_eks_addon")
    assert addon["address"] == "module.eks.aws_eks_addon.ebs_csi"
    after = addon["change"]["after"]
    assert after["addon_name"] == "aws-ebs-csi-driver"
    assert after["addon_version"] == versions()["eks_addons"]["aws-ebs-csi-driver"]
    assert after["cluster_name"] == "platform-test"
    assert (after["resolve_conflicts_on_create"], after["resolve_conflicts_on_update"]) == (
        "OVERWRITE",
        "OVERWRITE",
    )
    assert addon["change"]["after_unknown"]["service_account_role_arn"] is True, "the role's ARN"
    refs = _module_config(eks_plan)["aws_eks_addon.ebs_csi"]["expressions"]["service_account_role_arn"]
    assert "aws_iam_role.ebs_csi.arn" in refs["references"], refs
    assert eks_plan["output_changes"]["ebs_csi_role_arn"]["after_unknown"] is True


def test_ebs_csi_role_gets_the_managed_driver_policy(eks_plan: dict[str, Any]) -> None:
    roles = {r["address"]: r["change"]["after"] for r in _created(eks_plan, "aws_iam_role")}
    assert roles["module.eks.aws_iam_role.ebs_csi"]["name"] == "platform-test-ebs-csi"
    attached = [
        a["change"]["after"]
        for a in _created(eks_plan, "aws_iam_role_policy_attachment")
        if a["address"] == "module.eks.aws_iam_role_policy_attachment.ebs_csi"
    ]
    assert attached == [
        {
            "role": "platform-test-ebs-csi",
            "policy_arn": "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
        }
    ]


def test_ebs_csi_trust_is_the_controller_service_account_through_the_oidc_provider(
    eks_plan: dict[str, Any],
) -> None:
    """The trust policy's inputs (the OIDC provider ARN and issuer) are known only after apply, so the
    plan defers the document; its configuration is what the plan can show, and this reads it there."""
    assert [o["address"] for o in _created(eks_plan, "aws_iam_openid_connect_provider")] == [
        "module.eks.aws_iam_openid_connect_provider.this"
    ]
    config = _module_config(eks_plan)
    role = config["aws_iam_role.ebs_csi"]["expressions"]["assume_role_policy"]
    assert "data.aws_iam_policy_document.ebs_csi_assume.json" in role["references"], role
    (statement,) = config["data.aws_iam_policy_document.ebs_csi_assume"]["expressions"]["statement"]
    assert statement["actions"]["constant_value"] == ["sts:AssumeRoleWithWebIdentity"]
    assert "effect" not in statement or statement["effect"]["constant_value"] == "Allow"
    (principal,) = statement["principals"]
    assert principal["type"]["constant_value"] == "Federated"
    assert "aws_iam_openid_connect_provider.this.arn" in principal["identifiers"]["references"]
    sub, aud = statement["condition"]
    for condition in (sub, aud):
        assert condition["test"]["constant_value"] == "StringEquals"
        assert condition["variable"]["references"][0] == "local.oidc_issuer_host"
    assert sub["values"]["constant_value"] == [EBS_CSI_SA]
    assert aud["values"]["constant_value"] == ["sts.amazonaws.com"]
    # The plan shows a template's references, not its text: the claim names are checked in the source.
    source = (TERRAFORM_DIR / "modules" / "cluster-eks" / "addons.tf").read_text()
    assert source.index('variable = "${local.oidc_issuer_host}:sub"') < source.index(
        'variable = "${local.oidc_issuer_host}:aud"'
    )
    assert (
        'oidc_issuer_host = trimprefix(aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://")' in source
    )


def test_cluster_stack_passes_the_pinned_addon_version() -> None:
    stack = TERRAFORM_DIR / "stacks" / "cluster"
    eks = next(body for _, name, body in blocks(stack, "module") if name == "eks")
    assert unwrap(eks["ebs_csi_driver_version"]) == 'local.versions.eks_addons["aws-ebs-csi-driver"]', eks[
        "ebs_csi_driver_version"
    ]

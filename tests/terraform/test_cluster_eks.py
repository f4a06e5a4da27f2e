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

from tests.fixtures.servers import free_port
from tests.terraform.tfkit import REPO_ROOT, TERRAFORM_DIR, run_tf, terraform_env, versions

FIXTURE = REPO_ROOT / "tests" / "terraform" / "fixtures" / "eks-root"


def k8s_minor() -> str:
    image = versions()["kubernetes"]["kind_node_image"]
    match = re.match(r"^kindest/node:v(\d+\.\d+)\.", image)
    assert match, f"versions.yaml kubernetes.kind_node_image is not kindest/node:vX.Y.Z: {image}"
    return match.group(1)


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

"""envs/<env>/: tfvars match the stacks' variables, backends are local (dev) or locked, encrypted S3."""

from __future__ import annotations

import pytest
from platformctl.config import environments

from tests.terraform.tfkit import ENVS, TERRAFORM_DIR, blocks, parse_hcl, where


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("stack", ["cluster", "platform"])
def test_tfvars_fit_the_stack(env: str, stack: str) -> None:
    path = TERRAFORM_DIR / "envs" / env / f"{stack}.tfvars"
    assert path.is_file(), f"missing {where(path)}"
    given = parse_hcl(path)
    declared = {name: body for _, name, body in blocks(TERRAFORM_DIR / "stacks" / stack, "variable")}
    unknown = set(given) - set(declared)
    assert not unknown, f"{where(path)}: not variables of stacks/{stack}: {sorted(unknown)}"
    required = {name for name, body in declared.items() if "default" not in body}
    assert required <= set(given), f"{where(path)}: missing required {sorted(required - set(given))}"
    assert given["env"] == env, f"{where(path)}: env = {given['env']!r} in the {env} folder"


@pytest.mark.parametrize("env", ENVS)
def test_cluster_type_per_env(env: str) -> None:
    """The cluster type is environments.yaml's (one source): no var file repeats it."""
    given = parse_hcl(TERRAFORM_DIR / "envs" / env / "cluster.tfvars")
    assert "cluster_type" not in given, f"envs/{env}/cluster.tfvars repeats environments.yaml's cluster_type"
    expected = "kind" if env == "dev" else "eks"
    assert environments.get(env).cluster_type == expected, f"environments.yaml {env}: cluster_type"
    if env != "dev":
        group = given["node_group"]
        assert 1 <= group["min_size"] <= group["desired_size"] <= group["max_size"], f"envs/{env}: node_group"


@pytest.mark.parametrize("env", ENVS)
def test_backend_config(env: str) -> None:
    path = TERRAFORM_DIR / "envs" / env / "backend.hcl"
    settings = parse_hcl(path)
    if env == "dev":
        assert "bucket" not in settings, f"{where(path)}: dev keeps local state"
        return
    for key in ("bucket", "region"):
        assert settings.get(key), f"{where(path)}: {key} is required for the S3 backend"
    assert settings.get("use_lockfile") is True, (
        f"{where(path)}: use_lockfile must be true (S3-native locking)"
    )
    assert settings.get("encrypt") is True, f"{where(path)}: encrypt must be true"
    assert not {"access_key", "secret_key", "token"} & set(settings), (
        f"{where(path)}: credentials belong in env"
    )


@pytest.mark.parametrize("stack", ["cluster", "platform"])
def test_stacks_default_to_s3_backend(stack: str) -> None:
    path = TERRAFORM_DIR / "stacks" / stack / "versions.tf"
    backends = [b for block in parse_hcl(path)["terraform"] for b in block.get("backend", [])]
    assert backends == [{"s3": {"key": f"{stack}/terraform.tfstate"}}], (
        f'{where(path)}: backend "s3" with key only'
    )

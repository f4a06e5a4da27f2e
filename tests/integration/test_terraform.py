"""The Terraform adapter against the real terraform on a provider-free fixture stack (terraform_data)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from platformctl.adapters.terraform import Stack
from platformctl.adapters.tools import find_tool
from platformctl.errors import TerraformError

FIXTURE = Path(__file__).parent / "fixtures" / "tfstack"


@pytest.fixture
def stack_dir(tmp_path, monkeypatch) -> Path:
    cli_config = tmp_path / "empty.tfrc"
    cli_config.write_text("")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(cli_config))  # the machine's points at a missing file
    monkeypatch.setenv("TF_IN_AUTOMATION", "1")
    work = tmp_path / "stack"
    shutil.copytree(FIXTURE, work)
    return work


def test_init_plan_apply_output_destroy(stack_dir, tmp_path):
    var_file = tmp_path / "one.tfvars"
    var_file.write_text('name = "first"\n')
    stack = Stack(stack_dir, var_file=var_file)
    stack.init()
    changes, text = stack.plan(out=tmp_path / "saved.tfplan")
    assert changes and "terraform_data.thing will be created" in text
    stack.apply(tmp_path / "saved.tfplan")
    assert stack.output("thing")["name"] == "first"
    assert stack.plan() == (False, stack.plan()[1])
    stack.destroy()
    changes, _ = stack.plan()
    assert changes


def test_failure_is_one_line_error(stack_dir, tmp_path):
    var_file = tmp_path / "bad.tfvars"
    var_file.write_text('hold_seconds = "not a number"\n')
    stack = Stack(stack_dir, var_file=var_file)
    stack.init()
    with pytest.raises(TerraformError, match=r"plan in stack failed: Error: Invalid value for input"):
        stack.plan()


def test_held_lock_names_the_fix(stack_dir, tmp_path):
    stack = Stack(stack_dir)
    stack.init()
    holder_vars = tmp_path / "hold.tfvars"
    holder_vars.write_text("hold_seconds = 4\n")
    holder = subprocess.Popen(
        [str(find_tool("terraform")), "apply", "-auto-approve", "-input=false", f"-var-file={holder_vars}"],
        cwd=stack_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not (stack_dir / ".terraform.tfstate.lock.info").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(TerraformError, match=r"locked by another run \(lock \S+\).*force-unlock"):
            stack.plan()
    finally:
        holder.wait(timeout=60)
    assert holder.returncode == 0
    assert stack.output("thing")["name"] == "fixture"


def test_release_plan_from_terraform(tmp_path, monkeypatch):
    from platformctl.app import release_plan

    cli_config = tmp_path / "empty.tfrc"
    cli_config.write_text("")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(cli_config))
    shutil.copytree(FIXTURE.parent / "releaseplan", tmp_path / "terraform")
    releases = release_plan.from_terraform("staging", tmp_path / "terraform", tmp_path / "state")
    assert [(r.name, r.chart_path, r.values_files[-1]) for r in releases] == [
        ("users", "charts/microservice", "values/generated/staging/users.yaml")
    ]
    assert (tmp_path / "state" / "staging" / "release-plan.tfstate").is_file()
    # its working data beside the state, none in the stack: parallel runs never share a .terraform
    # (two pytest workers once raced on the stack's backend config and state lock)
    assert (tmp_path / "state" / "staging" / "release-plan.terraform").is_dir()
    assert not (tmp_path / "terraform" / "stacks" / "release-plan" / ".terraform").exists()


def test_provider_overrides_never_reach_terraform(tmp_path, monkeypatch):
    """KUBE_CONFIG_PATHS replaces the helm provider's `config_path` (hashicorp/helm v3.1.2
    helm/kubeconfig.go), so the adapter drops such variables. A stand-in `terraform` that records its
    environment shows what the real one would get (the helm provider itself cannot run here)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "env.txt"
    script = bin_dir / "terraform"
    script.write_text(f'#!/bin/sh\nenv > "{record}"\necho "{{}}"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("PLATFORMCTL_TOOLS_DIR", str(tmp_path / "no-tools"))
    monkeypatch.setenv("KUBE_CONFIG_PATHS", "/somewhere/else")
    monkeypatch.setenv("KUBE_CTX", "someone-elses")
    monkeypatch.setenv("KEEP_ME", "yes")
    Stack(tmp_path).output("anything")
    seen = dict(line.split("=", 1) for line in record.read_text().splitlines() if "=" in line)
    assert seen.get("KEEP_ME") == "yes"
    assert "KUBE_CONFIG_PATHS" not in seen and "KUBE_CTX" not in seen


def test_kind_cluster_deleted_outside_terraform_names_the_fix(stack_dir):
    """kind's own words when the cluster in the state has no node (sigs.k8s.io/kind v0.29.0)."""
    error = Stack(stack_dir)._error(
        "apply",
        "Error: could not locate any control plane nodes for cluster named 'platform-dev'. "
        "Use the --name option to select a different cluster\n",
    )
    assert "deleted outside Terraform" in str(error)
    assert "state rm 'module.kind[0].kind_cluster.this'" in str(error)
    assert "\n" not in str(error)


KIND_PROVIDER = """terraform {
  required_providers {
    kind = {
      source  = "tehcyx/kind"
      version = "0.9.0"
    }
  }
}
"""
TWO_PROVIDERS = KIND_PROVIDER.replace(
    "    kind = {",
    '    aws = {\n      source  = "hashicorp/aws"\n      version = "5.100.0"\n    }\n    kind = {',
)


@pytest.fixture
def kind_stack(tmp_path, monkeypatch) -> Path:
    """A stack that needs tehcyx/kind 0.9.0 (as stacks/cluster does), with an empty CLI config and no
    implied provider mirror: the provider can only come from the registry."""
    cli_config = tmp_path / "empty.tfrc"
    cli_config.write_text("")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(cli_config))
    monkeypatch.setenv("TF_IN_AUTOMATION", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "no-share"))
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "kindstack"
    work.mkdir()
    (work / "versions.tf").write_text(KIND_PROVIDER)
    return work


def _no_registry(monkeypatch, how: str) -> None:
    """`direct`: this machine's own network (no route to the registry here); `proxy`: a proxy that
    refuses every connection, so the registry is unreachable on any machine."""
    from tests.fixtures.servers import free_port

    if how == "proxy":
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")
    else:
        from platformctl.app import doctor

        if doctor.providers_check({"kindstack": ["tehcyx/kind"]}).ok:
            pytest.skip("the Terraform registry is reachable from this machine")


@pytest.mark.parametrize("how", ["direct", "proxy"])
def test_init_without_the_registry_names_provider_and_cause(kind_stack, monkeypatch, how):
    _no_registry(monkeypatch, how)
    with pytest.raises(TerraformError) as caught:
        Stack(kind_stack).init(backend=False)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        "terraform init in kindstack failed: provider tehcyx/kind cannot be installed (registry unreachable: "
    ), message
    cause = {
        "direct": r"(no such host|connection refused|timeout|unreachable)",
        "proxy": "connection refused",
    }
    assert re.search(cause[how] + r"\); ", message), message
    assert message.endswith(
        "; allow access to the Terraform provider registry or point TF_CLI_CONFIG_FILE at a provider mirror"
    )


def test_init_names_every_provider_that_cannot_be_installed(kind_stack, monkeypatch):
    (kind_stack / "versions.tf").write_text(TWO_PROVIDERS)
    _no_registry(monkeypatch, "proxy")
    with pytest.raises(TerraformError, match=r"providers hashicorp/aws, tehcyx/kind cannot be installed \("):
        Stack(kind_stack).init(backend=False)


def test_init_with_a_mirror_that_lacks_the_provider(kind_stack, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    config = tmp_path / "mirror.tfrc"
    config.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n')
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(config))
    with pytest.raises(TerraformError) as caught:
        Stack(kind_stack).init(backend=False)
    message = str(caught.value)
    assert f"provider tehcyx/kind cannot be installed (not in the provider mirror: {mirror})" in message
    assert "\n" not in message and "TF_CLI_CONFIG_FILE" in message


@pytest.mark.parametrize("how", ["direct", "proxy", "mirror without kind"])
def test_doctor_providers_row_agrees_with_terraform_init(kind_stack, tmp_path, monkeypatch, how):
    """doctor's cheap check (CLI config, TCP connect) says FAIL exactly when the real init fails."""
    from platformctl.app import doctor

    if how == "mirror without kind":
        config = tmp_path / "mirror.tfrc"
        config.write_text(
            f'provider_installation {{\n  filesystem_mirror {{\n    path = "{tmp_path}"\n  }}\n}}\n'
        )
        monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(config))
    elif how == "proxy":
        _no_registry(monkeypatch, how)
    check = doctor.providers_check({"kindstack": ["tehcyx/kind"]})
    try:
        Stack(kind_stack).init(backend=False)
        init_ok = True
    except TerraformError:
        init_ok = False
    assert check.ok == init_ok, check
    if not check.ok:
        assert check.fix and "tehcyx/kind" in check.detail

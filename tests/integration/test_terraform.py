"""The Terraform adapter against the real terraform on a provider-free fixture stack (terraform_data)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from platformctl.errors import TerraformError
from platformctl.terraform import Stack
from platformctl.tools import find_tool

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
    from platformctl import release_plan

    cli_config = tmp_path / "empty.tfrc"
    cli_config.write_text("")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(cli_config))
    shutil.copytree(FIXTURE.parent / "releaseplan", tmp_path / "terraform")
    releases = release_plan.from_terraform("staging", tmp_path / "terraform", tmp_path / "state")
    assert [(r.name, r.chart_path, r.values_files[-1]) for r in releases] == [
        ("users", "charts/microservice", "values/generated/staging/users.yaml")
    ]
    assert (tmp_path / "state" / "staging" / "release-plan.tfstate").is_file()


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

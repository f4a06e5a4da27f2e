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

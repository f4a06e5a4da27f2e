"""No absolute path of the checkout in any Terraform state; the stacks run from two working directories.

`abspath()` turns the repository root into this machine's path, and helm_release.chart (local charts)
or kind_cluster.kubeconfig_path store it in state. Relative paths are resolved by terraform (file(),
fileexists()) and by the helm/kind providers against terraform's working directory, which is the root
module's directory. platformctl runs the dev stacks from terraform/.dev/<stack>/ (symlinks to every
terraform/stacks/<stack>/*.tf plus a generated backend_override.tf), also two levels below terraform/,
so every path must be `${path.root}/../../..`-relative to resolve the same from both.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.terraform.tfkit import (
    ENVS,
    REPO_ROOT,
    TERRAFORM_DIR,
    blocks,
    parse_hcl,
    run_tf,
    terraform_env,
    terraform_tree,
    unwrap,
    where,
)

ROOT_PREFIX = "${path.root}/../../.."
_QUOTED_PARENT_PATH = re.compile(r'"((?:[^"\\]|\\.)*\.\./(?:[^"\\]|\\.)*)"')


def test_no_abspath_anywhere() -> None:
    for path in terraform_tree((".tf", ".hcl", ".tfvars")):
        code = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
        assert not any("abspath(" in line for line in code), (
            f"{where(path)}: abspath() puts this machine's path in state"
        )


@pytest.mark.parametrize("stack", ["cluster", "platform", "release-plan"])
def test_stack_paths_are_relative_to_path_root(stack: str) -> None:
    """Every `..` path in a stack is a module source (../../modules/x) or starts at ${path.root}."""
    for path in sorted((TERRAFORM_DIR / "stacks" / stack).glob("*.tf")):
        sources = {body["source"] for _, _, body in blocks(path.parent, "module")}
        for literal in _QUOTED_PARENT_PATH.findall(path.read_text()):
            if literal in sources:
                assert re.fullmatch(r"\.\./\.\./modules/[a-z-]+", literal), f"{where(path)}: source {literal}"
            else:
                assert literal == ROOT_PREFIX or literal.startswith(ROOT_PREFIX + "/"), (
                    f"{where(path)}: {literal!r} must start with {ROOT_PREFIX}/ (relative to the stack's "
                    "working directory, the same from terraform/stacks/<stack> and terraform/.dev/<stack>)"
                )


def test_platform_stack_passes_a_relative_repo_root() -> None:
    main = parse_hcl(TERRAFORM_DIR / "stacks" / "platform" / "main.tf")
    repo_root = next(b["repo_root"] for b in main["locals"] if "repo_root" in b)
    assert repo_root == ROOT_PREFIX, f"stacks/platform: local.repo_root = {repo_root}"
    modules = {name: body for _, name, body in blocks(TERRAFORM_DIR / "stacks" / "platform", "module")}
    for name in ("release_plan", "platform"):
        assert unwrap(modules[name]["repo_root"]) == "local.repo_root", f"stacks/platform: module.{name}"


def test_platform_module_rejects_an_absolute_repo_root() -> None:
    """Its chart paths go into helm_release.chart, i.e. into state: only relative roots are accepted."""
    variables = {n: b for _, n, b in blocks(TERRAFORM_DIR / "modules" / "platform", "variable")}
    conditions = [unwrap(v["condition"]) for v in variables["repo_root"]["validation"]]
    assert any('!startswith(var.repo_root, "/")' in c for c in conditions), conditions


def test_kind_kubeconfig_default_is_relative() -> None:
    main = (TERRAFORM_DIR / "stacks" / "cluster" / "main.tf").read_text()
    assert f'"{ROOT_PREFIX}/.state/${{var.env}}/kubeconfig"' in main, (
        "stacks/cluster: the kind kubeconfig default must be ${path.root}/../../../.state/<env>/kubeconfig"
    )


@pytest.mark.parametrize("env", ENVS)
def test_platform_tfvars_kubeconfig_is_relative(env: str) -> None:
    given = parse_hcl(TERRAFORM_DIR / "envs" / env / "platform.tfvars")
    assert given["kubeconfig_path"] == f"../../../.state/{env}/kubeconfig", f"envs/{env}/platform.tfvars"


def test_release_plan_runs_from_a_dev_working_dir(tmp_path: Path) -> None:
    """The layout platformctl builds, for the provider-free stack: terraform/.dev/release-plan/ with
    symlinks to the stack's files. The plan equals the one from terraform/stacks/release-plan, and
    neither the state nor the output holds the absolute path of the checkout."""
    tree = tmp_path / "checkout"
    shutil.copytree(TERRAFORM_DIR / "modules" / "release-plan", tree / "terraform/modules/release-plan")
    shutil.copytree(TERRAFORM_DIR / "stacks" / "release-plan", tree / "terraform/stacks/release-plan")
    shutil.copytree(REPO_ROOT / "tests/terraform/fixtures/values", tree / "values")
    for name in ("versions.yaml", "environments.yaml"):
        shutil.copy(REPO_ROOT / name, tree / name)
    results = {}
    for workdir in ("stacks", ".dev"):
        root = tree / "terraform" / workdir / "release-plan"
        if workdir == ".dev":
            root.mkdir(parents=True)
            for tf in sorted((tree / "terraform/stacks/release-plan").glob("*.tf")):
                (root / tf.name).symlink_to(Path("../../stacks/release-plan") / tf.name)
        state = tree / ".state" / f"{workdir}.tfstate"
        env = terraform_env(tmp_path / f"tf-{workdir}")
        run_tf(["init", "-input=false", f"-backend-config=path={state}"], root, env)
        run_tf(["apply", "-auto-approve", "-input=false", "-var=env=prod"], root, env)
        results[workdir] = json.loads(run_tf(["output", "-json", "releases"], root, env).stdout)
        assert str(tmp_path) not in state.read_text(), f"{workdir}: absolute path in state"
    assert results["stacks"] == results[".dev"]
    assert len(results["stacks"]) == 13  # every prod release: metrics-server, the CRD releases (issue 13)

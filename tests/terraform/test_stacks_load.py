"""The real terraform loads every root and module that needs providers missing on this machine.

`terraform init -backend=false` parses the configuration and resolves the module tree before it looks
for providers; the only error allowed is that helm or kind are not in the local mirror.
Runs on a copy of terraform/ so no lock file or .terraform/ lands in the repository.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.terraform.tfkit import REPO_ROOT, TERRAFORM_DIR, run_tf, terraform_env

UNAVAILABLE = {"hashicorp/helm", "tehcyx/kind"}  # hashicorp/kubernetes is no longer required anywhere
ROOTS = ["stacks/cluster", "stacks/platform", "modules/platform", "modules/cluster-kind"]


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("tree")
    shutil.copytree(TERRAFORM_DIR, copy / "terraform", ignore=shutil.ignore_patterns(".dev", ".terraform"))
    shutil.copy(REPO_ROOT / "versions.yaml", copy / "versions.yaml")
    return copy / "terraform"


@pytest.mark.parametrize("root", ROOTS)
def test_init_fails_only_on_unavailable_providers(
    root: str, tree_copy: Path, tmp_path: Path, aws_mirror: Path
) -> None:
    proc = run_tf(
        ["init", "-backend=false", "-input=false"],
        tree_copy / root,
        terraform_env(tmp_path, aws_mirror),
        check=False,
    )
    output = " ".join((proc.stdout + proc.stderr).split())
    errors = set(re.findall(r"Error: ([^│]+?) (?:Could not|The )", output)) or {"<none>"}
    missing = set(re.findall(r"provider registry\.terraform\.io/([\w-]+/[\w-]+) was not found", output))
    assert errors == {"Failed to query available provider packages"}, f"terraform/{root}: {output[-1500:]}"
    assert missing and missing <= UNAVAILABLE, (
        f"terraform/{root}: unexpected missing providers {sorted(missing)}"
    )

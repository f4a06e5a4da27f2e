"""`terraform fmt -check` over everything Terraform in the repository (real terraform)."""

from __future__ import annotations

from pathlib import Path

from tests.terraform.tfkit import REPO_ROOT, run_tf, terraform_env


def test_terraform_fmt_is_clean(tmp_path: Path) -> None:
    env = terraform_env(tmp_path)
    for folder in ("terraform", "tests/terraform/fixtures"):
        proc = run_tf(["fmt", "-check", "-recursive", "-diff", folder], REPO_ROOT, env, check=False)
        assert proc.returncode == 0, (
            f"`terraform fmt` would change these files under {folder}:\n{proc.stdout}"
        )

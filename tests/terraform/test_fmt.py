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


def test_fmt_skips_the_dev_working_dirs(tmp_path: Path) -> None:
    """`terraform fmt -recursive` skips dot-directories, so terraform/.dev/<stack>/ (platformctl's dev
    working directories) never fails `make lint`; a control file outside it is still checked."""
    tree = tmp_path / "terraform"
    (tree / ".dev" / "cluster").mkdir(parents=True)
    (tree / ".dev" / "cluster" / "backend_override.tf").write_text('terraform {\nbackend "local" {}\n}\n')
    env = terraform_env(tmp_path / "tf")
    assert run_tf(["fmt", "-check", "-recursive", str(tree)], tmp_path, env, check=False).returncode == 0
    (tree / "control.tf").write_text("locals {\na = 1\n}\n")
    assert run_tf(["fmt", "-check", "-recursive", str(tree)], tmp_path, env, check=False).returncode != 0

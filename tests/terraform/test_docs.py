"""READMEs: module tables in sync with variables.tf/outputs.tf; terraform/README.md documents the flow."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.terraform.tfkit import TERRAFORM_DIR, where
from tools.terraform.docs_tables import documented_dirs, render


@pytest.mark.parametrize("folder", documented_dirs(), ids=lambda p: where(p))
def test_readme_tables_in_sync(folder: Path) -> None:
    readme = folder / "README.md"
    current = readme.read_text()
    assert render(current, folder) == current, (
        f"{where(readme)}: inputs/outputs table is out of date; "
        "run `python -m tools.terraform.docs_tables --write`"
    )


def test_top_readme_documents_commands() -> None:
    text = (TERRAFORM_DIR / "README.md").read_text()
    for needle in (
        "terraform output -json releases",
        "make apply",
        "backend_override.tf",
        "platformctl apply",
        "-var-file=../../envs/",
        "-backend-config=../../envs/",
    ):
        assert needle in text, f"terraform/README.md does not mention `{needle}`"

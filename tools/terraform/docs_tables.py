"""Inputs/outputs tables of the Terraform modules' READMEs, generated from variables.tf and outputs.tf.

`python -m tools.terraform.docs_tables --write` rewrites the part of each README between the markers;
test_docs.py fails when a README is out of date.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tools.terraform.hcl import MODULES, STACKS, TERRAFORM_DIR, blocks, unwrap

BEGIN = "<!-- BEGIN_TF_TABLES -->"
END = "<!-- END_TF_TABLES -->"


def documented_dirs() -> list[Path]:
    return [TERRAFORM_DIR / "modules" / m for m in MODULES] + [TERRAFORM_DIR / "stacks" / s for s in STACKS]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(body: dict[str, Any]) -> str:
    if "default" not in body:
        return "n/a"
    value = body["default"]
    rendered = value if isinstance(value, str) and value.startswith("${") else json.dumps(value)
    return f"`{unwrap(rendered)}`"


def tables(folder: Path) -> str:
    lines = ["## Inputs", "", "| Name | Description | Type | Default | Required |", "|---|---|---|---|---|"]
    for _, name, body in sorted(blocks(folder, "variable"), key=lambda b: b[1]):
        required = "yes" if "default" not in body else "no"
        row = [f"`{name}`", body.get("description", ""), f"`{unwrap(body.get('type', 'any'))}`"]
        lines.append("| " + " | ".join(_cell(c) for c in [*row, _default(body), required]) + " |")
    lines += ["", "## Outputs", "", "| Name | Description | Sensitive |", "|---|---|---|"]
    for _, name, body in sorted(blocks(folder, "output"), key=lambda b: b[1]):
        sensitive = "yes" if body.get("sensitive") is True else "no"
        lines.append(f"| `{name}` | {_cell(body.get('description', ''))} | {sensitive} |")
    return "\n".join(lines)


def render(readme_text: str, folder: Path) -> str:
    """The README with its generated section replaced; raises if the markers are missing."""
    head, sep, rest = readme_text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"{folder.name}/README.md lacks the {BEGIN} ... {END} markers")
    return f"{head}{BEGIN}\n{tables(folder)}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite READMEs instead of checking them")
    args = parser.parse_args(argv)
    stale = []
    for folder in documented_dirs():
        readme = folder / "README.md"
        current = readme.read_text()
        wanted = render(current, folder)
        if wanted != current:
            if args.write:
                readme.write_text(wanted)
            stale.append(str(readme.relative_to(TERRAFORM_DIR.parent)))
    verb = "rewrote" if args.write else "out of date"
    for path in stale:
        print(f"{verb}: {path}")
    return 0 if args.write or not stale else 1


if __name__ == "__main__":
    sys.exit(main())

"""The glue's layers only point down (docs/architecture.md, "Layers of the glue"):

    cli, commands/   parse arguments and print            may import everything below
    app/             use cases shared by verbs and apply   may import adapters/, config/, the core
    adapters/        Vault, Kubernetes, Terraform, Helm...  may import config/, the core
    config/          typed configuration files             may import the core
    core             errors.py, context.py                 import nothing of the package

Nothing below the CLI imports `platformctl.cli` (no verb is run by calling the CLI from inside).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "scripts" / "platformctl"
RANK = {"core": 0, "config": 1, "adapters": 2, "app": 3, "commands": 4, "cli": 5}
# What a layer may import besides itself and the layers ranked below it.
CORE = {"errors", "context"}


def layer_of(module: str) -> str:
    """`platformctl.app.deploy` -> app; the top-level modules are the core or the CLI."""
    parts = module.split(".")
    if len(parts) < 2:
        return "package"
    if parts[1] in ("config", "adapters", "app", "commands"):
        return parts[1]
    if parts[1] == "cli":
        return "cli"
    if parts[1] in CORE:
        return "core"
    return "package"  # platformctl.__version__ and the like


def imported(source: str, module: str) -> list[str]:
    """The platformctl modules `source` (the text of `module`) imports, as full dotted names."""
    found: list[str] = []
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("platformctl")]
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module if node.level == 0 else f"{package}.{node.module}"
            if base.startswith("platformctl"):
                found += [f"{base}.{a.name}" if layer_of(base) == "package" else base for a in node.names]
    return found


def violations(source: str, module: str) -> list[str]:
    mine = layer_of(module)
    problems = []
    for target in imported(source, module):
        theirs = layer_of(target)
        if theirs == "package":
            continue
        if theirs == "cli" and mine != "package":
            problems.append(f"{module} imports {target}: nothing calls the CLI from inside")
        elif RANK[theirs] > RANK[mine]:
            problems.append(f"{module} ({mine}) imports {target} ({theirs}): layers only point down")
    return problems


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(p for p in relative.parts if p != "__init__")
        found.append((name, path))
    return found


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_imports_only_point_down(module: str, path: Path) -> None:
    assert violations(path.read_text(), module) == []


def test_every_module_is_in_a_layer() -> None:
    loose = [
        m for m, _ in modules() if layer_of(m) == "package" and m not in ("platformctl", "platformctl.cli")
    ]
    assert loose == [], "put these modules into config/, adapters/, app/ or commands/"


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "platformctl.adapters.kube",
            "from platformctl.app import deploy\n",
            "(adapters) imports platformctl.app",
        ),
        (
            "platformctl.config.site",
            "from platformctl.adapters.kube import x\n",
            "(config) imports platformctl.ad",
        ),
        ("platformctl.app.smoke", "def f():\n    from platformctl import cli\n", "nothing calls the CLI"),
        ("platformctl.errors", "import platformctl.config.paths\n", "(core) imports platformctl.config"),
    ],
    ids=["adapter-imports-use-case", "config-imports-adapter", "use-case-calls-cli", "core-imports-config"],
)
def test_the_check_reports_an_upward_import(module: str, source: str, expected: str) -> None:
    """Negative control: each kind of upward import is reported (also one inside a function)."""
    found = violations(source, module)
    assert len(found) == 1 and expected in found[0], found

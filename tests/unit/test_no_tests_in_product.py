"""tests/ holds only tests: neither the product (scripts/platformctl) nor tools/ imports or runs anything from
tests/ (the smoke suite, which `platformctl smoke` runs on a cluster, is the one exception, by path)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(REPO / "scripts" / "platformctl").rglob("*.py"), *(REPO / "tools").rglob("*.py")])
_MODULE = re.compile(r"\btests\.(?!smoke\b)\w+")
_FILE = re.compile(r"\btests/[\w/]+\.py\b")


def references(text: str) -> list[str]:
    """Modules of tests/ (imported or run with -m) and files of tests/ that are not themselves tests:
    naming a test file ("checked by tests/unit/test_layers.py") is documentation, not a dependency."""
    files = [
        f
        for f in _FILE.findall(text)
        if not f.startswith("tests/smoke/") and not Path(f).name.startswith(("test_", "conftest"))
    ]
    return _MODULE.findall(text) + files


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_the_product_and_tools_do_not_reach_into_tests(path: Path) -> None:
    found = references(path.read_text())
    assert not found, f"{path.relative_to(REPO)} refers to {sorted(set(found))}: move what it needs to tools/"


def test_the_check_sees_a_reference() -> None:
    assert references('subprocess.run([python, "-m", "tests.integration.fake_kube"])')
    assert references("see tests/charts/render.py")
    assert not references("SUITE = Path('tests') / 'smoke'; tests/smoke/cluster.py; tests/unit/test_x.py")

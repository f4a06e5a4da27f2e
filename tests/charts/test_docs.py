"""Each chart has a README whose values table matches values.yaml and values.schema.json."""

from __future__ import annotations

import pytest

from tools.charts import readme_table, render


@pytest.mark.parametrize("chart", render.OWN_CHARTS)
def test_readme_values_table_in_sync(chart):
    path = render.CHARTS / chart
    current = readme_table.readme_section((path / "README.md").read_text())
    assert current == readme_table.table(path), (
        f"charts/{chart}/README.md is stale: run `.venv/bin/python tools/charts/readme_table.py --write`"
    )


@pytest.mark.parametrize("chart", render.OWN_CHARTS)
def test_every_value_is_documented(chart):
    table = readme_table.table(render.CHARTS / chart)
    undocumented = [row for row in table.splitlines()[2:] if row.rstrip().endswith("|  |")]
    assert not undocumented


def test_table_follows_a_changed_default(tmp_path):
    """The generator reads values.yaml: a changed default shows up (so a stale README is detected)."""
    src = render.CHARTS / "postgresql"
    for name in ("values.yaml", "values.schema.json"):
        (tmp_path / name).write_text((src / name).read_text())
    values = (src / "values.yaml").read_text()
    assert values.count("  size: 8Gi\n") == 1
    (tmp_path / "values.yaml").write_text(values.replace("  size: 8Gi\n", "  size: 123Gi\n"))
    assert '`"123Gi"`' in readme_table.table(tmp_path)
    assert '`"123Gi"`' not in readme_table.table(src)

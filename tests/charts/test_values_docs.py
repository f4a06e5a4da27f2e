"""Chart values are documented once, as `# --` comments in values.yaml (helm-docs / traefik style); the
README tables and the values.schema.json descriptions are generated from them (tools/charts/values_docs.py),
each row with its own text."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tools.charts import readme_table, render, values_docs

STALE = "run `.venv/bin/python tools/charts/readme_table.py --write`"


def _strip_descriptions(node: object) -> object:
    if isinstance(node, dict):
        return {k: _strip_descriptions(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_strip_descriptions(v) for v in node]
    return node


@pytest.fixture
def chart_copy(tmp_path) -> Path:
    """A copy of the postgresql chart's values, schema and README to break."""
    copy = tmp_path / "postgresql"
    copy.mkdir()
    for name in ("values.yaml", "values.schema.json", "README.md"):
        shutil.copy(render.CHARTS / "postgresql" / name, copy / name)
    return copy


@pytest.mark.parametrize("chart", render.OWN_CHARTS)
def test_schema_descriptions_are_the_generated_ones(chart):
    path = render.CHARTS / chart
    assert (path / "values.schema.json").read_text() == values_docs.schema_text(path), (
        f"charts/{chart}/values.schema.json descriptions are stale: {STALE}"
    )


@pytest.mark.parametrize("chart", render.OWN_CHARTS)
def test_every_row_has_its_own_doc_comment_and_text(chart):
    docs = values_docs.load(render.CHARTS / chart)
    assert docs.missing() == []
    assert docs.duplicates() == {}
    rows = docs.rows()
    assert len({text for _, _, text in rows}) == len(rows)


@pytest.mark.parametrize("chart", render.OWN_CHARTS)
def test_row_text_is_plain_markdown(chart):
    """`<name>` outside a code span would be swallowed as an HTML tag by a Markdown renderer."""
    for path, _, text in values_docs.load(render.CHARTS / chart).rows():
        assert not re.search(r"<[A-Za-z/]", re.sub(r"`[^`]*`", "", text)), (chart, ".".join(path), text)


@pytest.mark.parametrize("chart", render.OWN_CHARTS)
def test_descriptions_are_the_only_difference_and_come_from_the_comments(chart):
    """The writer changes description members only; every schema node that belongs to one key carries that
    key's `# --` text, and a node several keys share (a definition reached by several $refs) carries none."""
    path = render.CHARTS / chart
    docs = values_docs.load(path)
    committed = json.loads((path / "values.schema.json").read_text())
    regenerated = json.loads(values_docs.schema_text(path))
    assert _strip_descriptions(regenerated) == _strip_descriptions(committed)
    chains, owners = values_docs.schema_nodes(committed)
    for key in values_docs.key_paths(docs.values):
        if key not in chains:
            continue
        node = values_docs.schema_node(committed, chains[key][0])
        if owners[chains[key][0]] == {key}:
            assert node.get("description") == docs.docs.get(".".join(key)), key
        else:
            assert "description" not in node, key


def _description_pointers(node: object, pointer: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(node, dict):
        own = [pointer] if "description" in node else []
        return own + [p for k, v in node.items() for p in _description_pointers(v, (*pointer, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _description_pointers(v, (*pointer, str(i)))]
    return []


@pytest.mark.parametrize("chart", ["microservice", "postgresql"])
def test_the_writer_keeps_the_file_layout(chart, tmp_path):
    """Every key's description removed, then written again from the comments: byte for byte the committed
    file (microservice is compact hand-formatted JSON, postgresql one member per line)."""
    src = render.CHARTS / chart
    copy = tmp_path / chart
    copy.mkdir()
    for name in ("values.yaml", "values.schema.json"):
        shutil.copy(src / name, copy / name)
    undocumented = values_docs.ChartDocs(chart, values_docs.load(src).values, {})
    stripped = values_docs.schema_text(copy, undocumented)
    # Left: descriptions of what no values.yaml key is (list items' fields).
    assert all("items" in p for p in _description_pointers(json.loads(stripped)))
    assert stripped.count('"description"') < (src / "values.schema.json").read_text().count('"description"')
    (copy / "values.schema.json").write_text(stripped)
    assert values_docs.schema_text(copy) == (src / "values.schema.json").read_text()


def test_a_key_without_its_doc_comment_is_reported_with_chart_and_key(chart_copy):
    """The `# --` of persistence.size turned into a maintainer note: neither the parent's `# --` text nor the
    note is used; the README generator names the chart and the key."""
    values = chart_copy / "values.yaml"
    text = values.read_text()
    doc = "  # -- Size of the data volume,"
    assert text.count(doc) == 1
    values.write_text(text.replace(doc, "  # Size of the data volume,"))
    with pytest.raises(values_docs.DocError, match=r"charts/postgresql/values.yaml: .*`persistence\.size`"):
        readme_table.table(chart_copy)
    assert values_docs.load(chart_copy).missing() == ["persistence.size"]


def test_a_new_value_without_documentation_is_reported(chart_copy):
    values = chart_copy / "values.yaml"
    values.write_text(values.read_text() + "\nextraSetting: 1\n")
    with pytest.raises(values_docs.DocError, match="`extraSetting`"):
        readme_table.table(chart_copy)


def test_a_changed_comment_makes_readme_and_schema_stale(chart_copy):
    values = chart_copy / "values.yaml"
    text = values.read_text()
    old = "# -- Size of the data volume,"
    assert text.count(old) == 1
    values.write_text(text.replace(old, "# -- Size of the one data volume,"))
    schema = values_docs.schema_text(chart_copy)
    assert schema != (chart_copy / "values.schema.json").read_text()
    size = json.loads(schema)["definitions"]["persistence"]["properties"]["size"]
    assert size["description"].startswith("Size of the one data volume,")
    readme = readme_table.readme_section((chart_copy / "README.md").read_text())
    assert readme != readme_table.table(chart_copy)
    assert "| Size of the one data volume," in readme_table.table(chart_copy)


def test_two_rows_with_the_same_text_are_reported(chart_copy):
    values = chart_copy / "values.yaml"
    text = values.read_text()
    size = re.search(r"# -- (Size of the data volume,[^\n]*)", text)
    assert size
    storage = "# -- StorageClass of the data volume; empty: the cluster's default class."
    assert text.count(storage) == 1
    values.write_text(text.replace(storage, f"# -- {size.group(1)}"))
    duplicates = values_docs.load(chart_copy).duplicates()
    assert list(duplicates.values()) == [["persistence.size", "persistence.storageClass"]]


def test_doc_comment_convention():
    """The `# --` block right above a key is its text (continuation lines joined); other comments are
    notes; keys inside list items are not documented keys."""
    text = (
        "# chart notes, never published\n"
        "\n"
        "# -- Top key.\n"
        "top:\n"
        "  # a maintainer's note\n"
        "  # -- Inner key, over\n"
        "  # two lines.\n"
        "  inner: 1\n"
        "  # only a note\n"
        "  plain: 2\n"
        "# -- A list.\n"
        "rules:\n"
        "  - name: a\n"
        "    # -- Not a key of values.yaml but of a list item.\n"
        "    port: 1\n"
        "last: 3\n"
    )
    with pytest.raises(values_docs.DocError, match=r"line 14: .*a line inside a list item"):
        values_docs.doc_comments(text)
    good = text.replace("    # -- Not a key", "    # Not a key")
    assert values_docs.doc_comments(good) == {
        "top": "Top key.",
        "top.inner": "Inner key, over two lines.",
        "rules": "A list.",
    }
    with pytest.raises(values_docs.DocError, match=r"line 1: .*blank line"):
        values_docs.doc_comments("# -- Detached.\n\nkey: 1\n")


def test_write_refuses_everything_when_one_key_is_undocumented(tmp_path, monkeypatch, capsys):
    """`readme_table.py --write`: one undocumented key anywhere, a one-line error naming it, exit 1 and no
    file written (not even another chart's stale one); once documented, both charts are rewritten."""
    charts = tmp_path / "charts"
    for chart in render.OWN_CHARTS:
        (charts / chart).mkdir(parents=True)
        for name in ("Chart.yaml", "values.yaml", "values.schema.json", "README.md"):
            shutil.copy(render.CHARTS / chart / name, charts / chart / name)
    monkeypatch.setattr(readme_table, "CHARTS", charts)
    postgresql = charts / "postgresql" / "values.yaml"
    postgresql.write_text(
        postgresql.read_text().replace("# -- Size of the data volume,", "# -- Size of the PVC,")
    )
    minio = charts / "minio" / "values.yaml"
    documented = minio.read_text()
    minio.write_text(documented.replace("# -- Serve the web console", "# Serve the web console"))
    before = {p: p.read_text() for p in charts.rglob("*") if p.is_file()}

    assert readme_table.main(["--write"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "charts/minio/values.yaml" in error and "`console.enabled`" in error
    assert {p: p.read_text() for p in charts.rglob("*") if p.is_file()} == before

    minio.write_text(documented)
    assert readme_table.main(["--write"]) == 0
    assert "Size of the PVC," in (charts / "postgresql" / "README.md").read_text()
    assert "Size of the PVC," in (charts / "postgresql" / "values.schema.json").read_text()
    assert readme_table.main(["--check"]) == 2

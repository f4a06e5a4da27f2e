"""Values table of a chart's README and the descriptions of its values.schema.json, both generated from
values.yaml: defaults, and each key's own `# --` comment (values_docs.py); the schema gives the types.
`python tools/charts/readme_table.py --write` refreshes every own chart's README table and schema
descriptions; a key without its `# --` text stops it before anything is written."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `tools` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.charts import values_docs

CHARTS = Path(__file__).resolve().parents[2] / "charts"
START, END = "<!-- values-table:start -->", "<!-- values-table:end -->"


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]] | {
            k: v for k, v in node.items() if k != "$ref"
        }
    return node


def _schema_at(schema: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    node = schema
    for key in path:
        node = _resolve(schema, node).get("properties", {}).get(key, {})
    return _resolve(schema, node)


def table(chart: Path, docs: values_docs.ChartDocs | None = None) -> str:
    """The Markdown values table: one row per key (see values_docs.leaves) with its own `# --` text."""
    docs = docs or values_docs.load(chart)
    schema = json.loads((chart / "values.schema.json").read_text())
    rows = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    for path, default, text in docs.rows():
        node = _schema_at(schema, path)
        kind = node.get("type", "object" if "properties" in node else "")
        kind = " \\| ".join(kind) if isinstance(kind, list) else kind
        desc = text.replace("|", "\\|")
        shown = json.dumps(default).replace("|", "\\|")
        rows.append(f"| `{'.'.join(path)}` | {kind} | `{shown}` | {desc} |")
    return "\n".join(rows)


def readme_section(readme: str) -> str:
    return readme.split(START, 1)[1].split(END, 1)[0].strip()


def readme_text(chart: Path, docs: values_docs.ChartDocs | None = None) -> str:
    """The chart's README.md with its values table regenerated."""
    text = (chart / "README.md").read_text()
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    return f"{head}{START}\n{table(chart, docs)}\n{END}{tail}"


def generated(chart: Path) -> dict[Path, str]:
    """File -> its generated text: README.md and values.schema.json."""
    docs = values_docs.load(chart)
    return {
        chart / "README.md": readme_text(chart, docs),
        chart / "values.schema.json": values_docs.schema_text(chart, docs),
    }


def own_charts() -> list[Path]:
    return sorted(p for p in CHARTS.iterdir() if (p / "Chart.yaml").exists())


def main(argv: list[str]) -> int:
    if argv != ["--write"]:
        print("usage: readme_table.py --write", file=sys.stderr)
        return 2
    try:  # everything first: one undocumented key anywhere and nothing is written
        files = {path: text for chart in own_charts() for path, text in generated(chart).items()}
    except values_docs.DocError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path, text in files.items():
        if path.read_text() != text:
            path.write_text(text)
            print(f"updated {path.relative_to(CHARTS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

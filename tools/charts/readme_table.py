"""Values table of a chart's README, generated from values.yaml (defaults, comments) and
values.schema.json (types). `python tools/charts/readme_table.py --write` refreshes every README."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

CHARTS = Path(__file__).resolve().parents[2] / "charts"
START, END = "<!-- values-table:start -->", "<!-- values-table:end -->"
_KEY = re.compile(r"^(\s*)([A-Za-z][\w.-]*):")


def comments(values_text: str) -> dict[str, str]:
    """Dotted key -> the comment block written right above it."""
    out: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    for line in values_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = _KEY.match(line)
        if not match or stripped.startswith("-"):
            pending = []
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group(2)))
        if pending:
            out[".".join(k for _, k in stack)] = " ".join(pending)
        pending = []
    return out


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]] | {
            k: v for k, v in node.items() if k != "$ref"
        }
    return node


def _schema_at(schema: dict, path: list[str]) -> dict:
    node = schema
    for key in path:
        node = _resolve(schema, node).get("properties", {}).get(key, {})
    return _resolve(schema, node)


def _leaves(value: object, prefix: list[str]) -> list[tuple[list[str], object]]:
    if isinstance(value, dict) and value:
        return [leaf for k, v in value.items() for leaf in _leaves(v, [*prefix, k])]
    return [(prefix, value)]


def _description(schema: dict, notes: dict[str, str], path: list[str]) -> str:
    """The key's own comment or schema description, else the nearest ancestor's."""
    for end in range(len(path), 0, -1):
        text = notes.get(".".join(path[:end])) or _schema_at(schema, path[:end]).get("description")
        if text:
            return text
    return ""


def table(chart: Path) -> str:
    text = (chart / "values.yaml").read_text()
    schema = json.loads((chart / "values.schema.json").read_text())
    notes = comments(text)
    rows = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    for path, default in _leaves(yaml.safe_load(text), []):
        node = _schema_at(schema, path)
        kind = node.get("type", "object" if "properties" in node else "")
        kind = " \\| ".join(kind) if isinstance(kind, list) else kind
        key = ".".join(path)
        desc = _description(schema, notes, path).replace("|", "\\|")
        shown = json.dumps(default).replace("|", "\\|")
        rows.append(f"| `{key}` | {kind} | `{shown}` | {desc} |")
    return "\n".join(rows)


def readme_section(readme: str) -> str:
    return readme.split(START, 1)[1].split(END, 1)[0].strip()


def write(chart: Path) -> None:
    path = chart / "README.md"
    text = path.read_text()
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(f"{head}{START}\n{table(chart)}\n{END}{tail}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: readme_table.py --write")
    for chart_dir in sorted(p for p in CHARTS.iterdir() if (p / "Chart.yaml").exists()):
        write(chart_dir)
        print(f"updated {chart_dir.name}/README.md")

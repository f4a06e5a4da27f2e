"""Chart value documentation, written once: the `# --` comment block right above a key of a chart's
values.yaml (the helm-docs / traefik-helm-chart convention). The block starts at the line `# -- <text>`
and runs, through the continuation lines `# <text>`, down to the key; every other comment is a note for
the chart's maintainers and is published nowhere.

Generated from these blocks, so that they cannot disagree with values.yaml:
- the values table of the chart's README (readme_table.py): each row shows its own key's text, and a key
  that needs a row but has no `# --` block is an error naming the chart and the key;
- every `description` of values.schema.json that belongs to one key of values.yaml (schema_text): the
  key's text, or no description when the key has none. A schema node that several keys share (a
  definition reached through more than one `$ref`) carries no description, since no single text fits.
  Only `description` members are inserted, replaced or removed; the rest of the file stays as written.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DOC = "# --"
_KEY = re.compile(r"^(\s*)([A-Za-z][\w.-]*):(?:\s|$)")
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()

Pointer = tuple[str, ...]
KeyPath = tuple[str, ...]


class DocError(ValueError):
    """values.yaml documentation that the generators refuse (one line: the chart, the key, the fix)."""


def _is_doc_start(stripped: str) -> bool:
    return stripped == DOC or stripped.startswith(DOC + " ")


def doc_comments(values_text: str, source: str = "values.yaml") -> dict[str, str]:
    """Dotted key -> the text of the `# --` block directly above it. Keys inside list items are not
    documented keys; a `# --` block above anything but a key is an error."""
    out: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    seq_indent: int | None = None
    doc: list[str] | None = None
    doc_line = 0

    def misplaced(what: str) -> DocError:
        return DocError(
            f"{source} line {doc_line}: the `# --` block is followed by {what}, not by a key; "
            "put it directly above the key it documents (no blank line between)"
        )

    for number, line in enumerate(values_text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("#"):
            if _is_doc_start(stripped):
                doc, doc_line = [stripped[len(DOC) :].strip()], number
            elif doc is not None:
                doc.append(stripped[1:].strip())
            continue
        indent = len(line) - len(line.lstrip())
        if not stripped:
            if doc is not None:
                raise misplaced("a blank line")
            continue
        if stripped == "-" or stripped.startswith("- "):
            if doc is not None:
                raise misplaced("a list item")
            seq_indent = indent if seq_indent is None else min(seq_indent, indent)
            continue
        match = _KEY.match(line)
        if seq_indent is not None and indent > seq_indent:
            if doc is not None:
                raise misplaced("a line inside a list item")
            continue
        seq_indent = None
        if not match:
            if doc is not None:
                raise misplaced("a line that is not a key")
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group(2)))
        if doc is not None:
            text = " ".join(part for part in doc if part)
            key = ".".join(k for _, k in stack)
            if not text:
                raise DocError(f"{source} line {doc_line}: the `# --` block of `{key}` has no text")
            out[key] = text
        doc = None
    if doc is not None:
        raise misplaced("the end of the file")
    return out


def key_paths(values: object, prefix: KeyPath = ()) -> list[KeyPath]:
    """Every key of values.yaml, parents before their children, in file order."""
    if not isinstance(values, dict):
        return []
    out: list[KeyPath] = []
    for key, value in values.items():
        out.append((*prefix, str(key)))
        out += key_paths(value, (*prefix, str(key)))
    return out


def leaves(values: object, prefix: KeyPath = ()) -> list[tuple[KeyPath, object]]:
    """The keys that get a README row: every key whose value is not a non-empty map (so `settings: {}`
    and lists are rows of their own), with its default."""
    if isinstance(values, dict) and values:
        return [leaf for k, v in values.items() for leaf in leaves(v, (*prefix, str(k)))]
    return [(prefix, values)]


@dataclass(frozen=True)
class ChartDocs:
    """One chart's values.yaml: its defaults and the `# --` text of each documented key."""

    name: str
    values: dict[str, Any]
    docs: dict[str, str]

    def missing(self) -> list[str]:
        """Keys that need a row but have no `# --` text of their own."""
        return [".".join(path) for path, _ in leaves(self.values) if ".".join(path) not in self.docs]

    def rows(self) -> list[tuple[KeyPath, object, str]]:
        """(key, default, text) of every row; DocError naming the chart and every undocumented key."""
        missing = self.missing()
        if missing:
            keys = ", ".join(f"`{key}`" for key in missing)
            raise DocError(
                f"charts/{self.name}/values.yaml: no `# --` description for {keys}; write one directly "
                "above each key (what it does, its unit or allowed values)"
            )
        return [(path, default, self.docs[".".join(path)]) for path, default in leaves(self.values)]

    def duplicates(self) -> dict[str, list[str]]:
        """Row text -> the keys sharing it, for every text on more than one row."""
        by_text: dict[str, list[str]] = defaultdict(list)
        for path, _ in leaves(self.values):
            key = ".".join(path)
            if key in self.docs:
                by_text[self.docs[key]].append(key)
        return {text: keys for text, keys in by_text.items() if len(keys) > 1}


def load(chart: Path) -> ChartDocs:
    text = (chart / "values.yaml").read_text()
    values = yaml.safe_load(text) or {}
    return ChartDocs(chart.name, values, doc_comments(text, f"charts/{chart.name}/values.yaml"))


# --- values.schema.json: where each key's node is, and an editor that touches only `description` ---


def schema_node(schema: dict[str, Any], pointer: Pointer) -> dict[str, Any]:
    """The object at a JSON pointer (as a tuple of its parts)."""
    node: Any = schema
    for part in pointer:
        node = node[part]
    if not isinstance(node, dict):
        raise DocError(f"schema node /{'/'.join(pointer)} is not an object")
    return node


def _chain(schema: dict[str, Any], pointer: Pointer) -> list[Pointer]:
    """The node at pointer, then each definition its `$ref`s lead to."""
    chain = [pointer]
    node = schema_node(schema, pointer)
    while "$ref" in node:
        ref = str(node["$ref"])
        if not ref.startswith("#/"):
            raise DocError(f"schema $ref {ref} is not local to the file")
        target = tuple(ref[2:].split("/"))
        if target in chain:
            break
        chain.append(target)
        node = schema_node(schema, target)
    return chain


def schema_nodes(schema: dict[str, Any]) -> tuple[dict[KeyPath, list[Pointer]], dict[Pointer, set[KeyPath]]]:
    """For every key the schema declares (through `properties`, following `$ref`): the chain of nodes
    that describe it; and for every such node, the keys that reach it."""
    chains: dict[KeyPath, list[Pointer]] = {}
    owners: dict[Pointer, set[KeyPath]] = defaultdict(set)

    def visit(pointer: Pointer, path: KeyPath) -> None:
        if len(path) > 32:
            raise DocError(f"schema nests deeper than 32 keys at {'.'.join(path)} (a recursive $ref?)")
        chain = _chain(schema, pointer)
        chains[path] = chain
        for node in chain:
            owners[node].add(path)
        holder = next((p for p in chain if isinstance(schema_node(schema, p).get("properties"), dict)), None)
        if holder is not None:
            for key in schema_node(schema, holder)["properties"]:
                visit((*holder, "properties", key), (*path, key))

    visit((), ())
    return chains, owners


def wanted_descriptions(schema: dict[str, Any], chart: ChartDocs) -> dict[Pointer, str | None]:
    """Schema node -> the description it must carry (None: none). Covers every node that describes a
    key of values.yaml; keys only the schema declares keep whatever their own nodes say."""
    chains, owners = schema_nodes(schema)
    keys = {".".join(path) for path in key_paths(chart.values)}
    wanted: dict[Pointer, str | None] = {}
    for path, chain in chains.items():
        key = ".".join(path)
        if not path or key not in keys:
            continue
        for index, pointer in enumerate(chain):
            text = chart.docs.get(key) if index == 0 and owners[pointer] == {path} else None
            if pointer in wanted and wanted[pointer] != text:
                text = None
            wanted[pointer] = text
    return wanted


@dataclass
class _Node:
    start: int
    end: int
    members: dict[str, tuple[int, _Node]] | None = None  # object: key -> (offset of the key's quote, value)
    items: list[_Node] | None = None
    value: object = None


def _skip(text: str, index: int) -> int:
    match = _WS.match(text, index)
    return match.end() if match else index


def _parse(text: str, index: int) -> _Node:
    start = _skip(text, index)
    char = text[start : start + 1]
    if char == "{":
        members: dict[str, tuple[int, _Node]] = {}
        at = _skip(text, start + 1)
        if text[at] == "}":
            return _Node(start, at + 1, members=members)
        while True:
            key, after = _DECODER.raw_decode(text, at)  # the member's name, a JSON string
            colon = _skip(text, after)
            value = _parse(text, colon + 1)
            members[key] = (at, value)
            at = _skip(text, value.end)
            if text[at] == "}":
                return _Node(start, at + 1, members=members)
            at = _skip(text, at + 1)
    if char == "[":
        items: list[_Node] = []
        at = _skip(text, start + 1)
        if text[at] == "]":
            return _Node(start, at + 1, items=items)
        while True:
            item = _parse(text, at)
            items.append(item)
            at = _skip(text, item.end)
            if text[at] == "]":
                return _Node(start, at + 1, items=items)
            at = _skip(text, at + 1)
    value, end = _DECODER.raw_decode(text, start)
    return _Node(start, end, value=value)


def _node_at(root: _Node, pointer: Pointer) -> _Node:
    node = root
    for part in pointer:
        if node.members is not None:
            node = node.members[part][1]
        elif node.items is not None:
            node = node.items[int(part)]
        else:
            raise DocError(f"schema has no node /{'/'.join(pointer)}")
    return node


def _edit(text: str, node: _Node, description: str | None) -> tuple[int, int, str] | None:
    """The one change (start, end, replacement) that gives the object `node` this description."""
    members = node.members
    if members is None:
        raise DocError(f"schema node at offset {node.start} is not an object")
    current = members.get("description")
    encoded = json.dumps(description, ensure_ascii=False) if description is not None else ""
    if current is not None:
        key_at, value = current
        if description is not None:
            return None if value.value == description else (value.start, value.end, encoded)
        order = list(members)
        position = order.index("description")
        if position + 1 < len(order):  # remove up to the next member's key
            return (key_at, members[order[position + 1]][0], "")
        if position > 0:  # the last member: remove from the end of the previous one
            return (members[order[position - 1]][1].end, value.end, "")
        return (node.start + 1, node.end - 1, "")
    if description is None:
        return None
    if not members:
        return (node.start + 1, node.end - 1, f'"description": {encoded}')
    first = min(key_at for key_at, _ in members.values())
    gap = text[node.start + 1 : first]
    separator = gap if "\n" in gap else " "
    return (first, first, f'"description": {encoded},{separator}')


def schema_text(chart: Path, docs: ChartDocs | None = None) -> str:
    """The chart's values.schema.json with every key's description taken from its `# --` text."""
    docs = docs or load(chart)
    text = (chart / "values.schema.json").read_text()
    schema = json.loads(text)
    root = _parse(text, 0)
    wanted = wanted_descriptions(schema, docs)
    edits: list[tuple[int, int, str]] = []
    for pointer, description in wanted.items():
        change = _edit(text, _node_at(root, pointer), description)
        if change is not None:
            edits.append(change)
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    for pointer, description in wanted.items():  # what the edited text must parse to
        node = schema_node(schema, pointer)
        node.pop("description", None)
        if description is not None:
            node["description"] = description
    if json.loads(text) != schema:
        raise DocError(f"charts/{chart.name}/values.schema.json: editing the descriptions changed more")
    return text

"""values/secrets-map.yaml must say exactly what the Secrets table of docs/architecture.md says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from platformctl.config import secret_map
from platformctl.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _doc_rows() -> list[list[str]]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Secrets", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "Vault path" not in line]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def _ticks(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def test_map_matches_the_architecture_table():
    smap = secret_map.load()
    documented = {}
    for path, vault_keys, name, namespace, secret_keys, consumers in _doc_rows():
        documented[name.strip("`")] = {
            "path": path.strip("`"),
            "namespace": namespace.strip("`"),
            "keys": dict(zip(_ticks(secret_keys), _ticks(vault_keys), strict=True)),
            "consumers": sorted(re.sub(r"\(.*?\)", "", consumers).replace(" ", "").split(",")),
        }
    mapped = {
        name: {"path": s.path, "namespace": s.namespace, "keys": s.keys, "consumers": sorted(s.consumers)}
        for name, s in smap.secrets.items()
    }
    assert mapped == documented


def test_every_rotation_and_secret_uses_declared_vault_keys(tmp_path):
    bad = tmp_path / "map.yaml"
    bad.write_text("vault: {a: {k: password}}\nsecrets:\n  s: {namespace: n, path: a, keys: {x: missing}}\n")
    with pytest.raises(ConfigError, match=r"secrets\.s uses kv/<env>/a key 'missing'"):
        secret_map.load(bad)
    bad.write_text("vault: {a: {k: made-up}}\nsecrets: {}\n")
    with pytest.raises(ConfigError, match="unknown generator 'made-up'"):
        secret_map.load(bad)
    with pytest.raises(ConfigError, match="cannot read secret map"):
        secret_map.load(tmp_path / "absent.yaml")


def test_secrets_for_a_release_are_sorted():
    assert secret_map.load().secrets_for("notifications") == ["notifications-s3", "rabbitmq-app"]

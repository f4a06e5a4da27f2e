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


def test_mounts_make_consumers_and_are_checked(tmp_path: Path) -> None:
    """A mount makes its release a consumer (secrets_for, rotation rolls); a mount's settings name keys of
    the Secret, end in _FILE, are set once per release; a release is listed once; a mount goes somewhere."""
    smap = secret_map.load()
    assert smap.secrets["rabbitmq-app"].consumers == ["users", "notifications"]
    assert smap.secrets_for("users") == ["rabbitmq-app", "users-admin", "users-db"]
    head = "vault: {a: {k: password, j: password}}\nsecrets:\n"
    cases = {
        "s: {namespace: n, path: a, keys: {x: k}, mounts: {r: {settings: {R_FILE: y}}}}": (
            "secrets.s.mounts.r.settings.R_FILE: 'y' is not a key of Secret s (its keys: x)"
        ),
        "s: {namespace: n, path: a, keys: {x: k}, consumers: [r], mounts: {r: {}}}": (
            "secrets.s: r is under both `consumers` and `mounts`; list it under `mounts` only"
        ),
        "s: {namespace: n, path: a, keys: {x: k}, mounts: {r: {pods: false, migration: false}}}": (
            "secrets.s.mounts.r: `pods` and `migration` are both false"
        ),
        "s: {namespace: n, path: a, keys: {x: k}, mounts: {r: {settings: {R_PASSWORD: x}}}}": (
            "secrets.s.mounts.r.settings.R_PASSWORD: a setting that names a file ends in _FILE"
        ),
        "s: {namespace: n, path: a, keys: {x: k}, mounts: {r: {settings: {R_FILE: x}}}}\n"
        "  t: {namespace: n, path: a, keys: {y: j}, mounts: {r: {settings: {R_FILE: y}}}}": (
            "secrets.t.mounts.r.settings.R_FILE: also set by secrets.s.mounts.r; name each file setting once"
        ),
    }
    bad = tmp_path / "map.yaml"
    for body, message in cases.items():
        bad.write_text(head + "  " + body + "\n")
        with pytest.raises(ConfigError) as caught:
            secret_map.load(bad)
        assert message in str(caught.value), body

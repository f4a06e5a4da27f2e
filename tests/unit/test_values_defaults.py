"""`platformctl values` validates what Helm will validate: the chart's own values.yaml defaults merged with
the values files (Helm checks values.schema.json against that merge), so a values file that sets part of
an object whose other keys the chart defaults is accepted; one that breaks the schema is still refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from platformctl.app import values
from platformctl.config import secret_map
from platformctl.config.release import Release
from platformctl.errors import ConfigError

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "backup": {
            "type": "object",
            "additionalProperties": False,
            "required": ["enabled", "keepLast"],
            "properties": {"enabled": {"type": "boolean"}, "keepLast": {"type": "integer", "minimum": 1}},
        }
    },
}


def _chart(root: Path) -> Release:
    chart = root / "charts" / "demo"
    chart.mkdir(parents=True)
    (chart / "values.schema.json").write_text(json.dumps(SCHEMA))
    (chart / "values.yaml").write_text("backup:\n  enabled: true\n  keepLast: 7\n")
    (root / "values" / "dev").mkdir(parents=True)
    files = ("values/dev/demo.yaml", "values/generated/dev/demo.yaml")
    return Release("demo", "apps", "charts/demo", files)


def test_a_partial_override_of_a_defaulted_object_is_valid(tmp_path: Path) -> None:
    release = _chart(tmp_path)
    (tmp_path / "values/dev/demo.yaml").write_text("backup:\n  keepLast: 3\n")
    target, body = values.render(release, secret_map.load(), {}, {}, tmp_path)
    assert target == tmp_path / "values/generated/dev/demo.yaml" and body.endswith(b"{}\n")


def test_a_bad_override_is_still_refused_naming_the_users_file(tmp_path: Path) -> None:
    release = _chart(tmp_path)
    (tmp_path / "values/dev/demo.yaml").write_text("backup:\n  keepLast: 0\n")
    with pytest.raises(ConfigError, match=r"^values/dev/demo.yaml: key `backup.keepLast` fails"):
        values.render(release, secret_map.load(), {}, {}, tmp_path)

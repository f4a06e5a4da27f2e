"""A planned release (one item of terraform/stacks/release-plan's `releases` output), typed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from platformctl.errors import ConfigError


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    chart_path: str | None  # charts/<name> for own charts, None for upstream ones
    values_files: tuple[str, ...]  # common, env, generated[, site overlay] (later wins)
    wave: int = 0
    timeout: int = 300
    chart_name: str = ""
    chart_repository: str | None = None
    chart_version: str | None = None
    needs: tuple[str, ...] = ()
    skip_crds: bool = False  # its crds/ folder is installed and upgraded by its CRD release instead

    @property
    def generated_file(self) -> str:
        """The values file `platformctl values` writes (values/generated/<env>/<release>.yaml)."""
        found = [f for f in self.values_files if "/generated/" in f]
        if len(found) != 1:
            raise ConfigError(f"release {self.name}: the plan must list exactly one generated values file")
        return found[0]


def parse_releases(raw: Any) -> list[Release]:
    """The release plan (`terraform output -json releases` of stacks/release-plan)."""
    try:
        return [
            Release(
                r["name"],
                r["namespace"],
                r["chart"].get("path"),
                tuple(r["values_files"]),
                int(r.get("wave", 0)),
                int(r.get("timeout", 300)),
                str(r["chart"].get("name") or ""),
                r["chart"].get("repository"),
                r["chart"].get("version"),
                tuple(r.get("needs") or ()),
                bool(r.get("skip_crds", False)),
            )
            for r in raw
        ]
    except (KeyError, TypeError, AttributeError, ValueError):
        raise ConfigError(
            "release plan is not a list of {name, namespace, chart, values_files}; "
            "check terraform/stacks/release-plan outputs"
        ) from None

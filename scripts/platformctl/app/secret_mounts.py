"""Which Secrets a release reads, from the secret map alone (docs/adr/0003-secrets-as-files.md).

For the releases the map `mounts` a Secret into (charts/microservice), `platformctl values` generates the
`secretMounts` (the pods'; `migration.secretMounts`: the migration Job's only) and the `*_FILE` settings
naming the key files. For every release it then checks that the merged values name exactly the Secrets
the map gives the release: a consumer whose values never name its Secret, a values file naming a Secret
the map does not give the release, a hand-written mount or key file path: each one ConfigError line
naming the file, the release and the Secret. So the checksum (over the map's Secrets of the release) covers
exactly what the pods read. Only names and file paths, never a value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from platformctl.config.secret_map import SecretMap
from platformctl.errors import ConfigError

MAP_FILE = "values/secrets-map.yaml"
# Where charts/microservice mounts Secret <name> (`ms.secretVolumeMounts` in its _helpers.tpl;
# tests/charts/test_secret_mounts.py renders the chart to hold the two together).
MOUNT_ROOT = "/var/run/secrets/platform"
# How values name a Secret: a mount's `name`, or a value (or list item) under a key whose name contains
# "secret" (`existingSecret`, `backup.s3.existingSecret`, `alertmanagerSpec.secrets`) that is a Secret of
# the map; under NAME_KEYS and in mounts any name counts (a typo, a Secret nobody declared). A value that
# merely equals a Secret's name elsewhere (a bucket, a user) is not a reference.
NAME_KEYS = ("existingSecret",)
MOUNT_KEYS: tuple[tuple[str, ...], ...] = (("secretMounts",), ("migration", "secretMounts"))

Layers = list[tuple[str, dict[str, Any]]]


def mount_values(secret_map: SecretMap, release: str) -> dict[str, Any]:
    """The generated `secretMounts`, `migration.secretMounts` and `*_FILE` settings of `release` ({} when
    the map mounts nothing into it), in map order (the pods' volume order)."""
    pods: list[dict[str, Any]] = []
    job: list[dict[str, Any]] = []
    settings: dict[str, str] = {}
    for name, spec in secret_map.secrets.items():
        mount = spec.mounts.get(release)
        if mount is None:
            continue
        if mount.pods:
            pods.append({"name": name} if mount.migration else {"name": name, "migration": False})
        else:
            job.append({"name": name})
        for setting, key in mount.settings.items():
            settings[setting] = f"{MOUNT_ROOT}/{name}/{key}"
    out: dict[str, Any] = {}
    if pods:
        out["secretMounts"] = pods
    if job:
        out["migration"] = {"secretMounts": job}
    if settings:
        out["settings"] = settings
    return out


KeyPath = tuple[str | int, ...]


def _get(data: Any, path: KeyPath) -> Any:
    """The value at `path` (map keys and list indexes), or None."""
    for part in path:
        found = isinstance(data, dict) and part in data
        found = found or (isinstance(data, list) and isinstance(part, int) and part < len(data))
        if not found:
            return None
        data = data[part]
    return data


def _walk(node: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, (*path, i))
    else:
        yield path, node


def _dotted(path: KeyPath) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _mounting(secret_map: SecretMap, release: str, setting: str) -> str:
    return next(
        (
            n
            for n, s in secret_map.secrets.items()
            if setting in getattr(s.mounts.get(release), "settings", {})
        ),
        "?",
    )


def check_hand_written(release: str, secret_map: SecretMap, user: Layers, mounts: dict[str, Any]) -> None:
    """The files the user wrote neither mount a Secret nor name a key file: the map does both."""
    for file, data in user:
        for path in MOUNT_KEYS:
            listed = _get(data, path)
            if listed is None:
                continue
            key = _dotted(path)
            entries = listed if isinstance(listed, list) else []
            names = [str(m["name"]) for m in entries if isinstance(m, dict) and m.get("name")]
            if not names:
                raise ConfigError(
                    f"{file}: `{key}` of release {release} is generated from {MAP_FILE}; remove it here"
                )
            raise ConfigError(
                f"{file}: `{key}` mounts Secret {names[0]} into release {release} by hand; mounts come "
                f"from {MAP_FILE}: give it a mount there (secrets.{names[0]}.mounts.{release}) and remove "
                f"`{key}` here"
            )
        settings = data.get("settings")
        for setting, value in (settings if isinstance(settings, dict) else {}).items():
            if setting in mounts.get("settings", {}):
                raise ConfigError(
                    f"{file}: `settings.{setting}` of release {release} is generated from {MAP_FILE} "
                    f"(Secret {_mounting(secret_map, release, setting)}); remove it here"
                )
            if isinstance(value, str) and value.startswith(f"{MOUNT_ROOT}/"):
                secret = value.removeprefix(f"{MOUNT_ROOT}/").split("/", 1)[0]
                raise ConfigError(
                    f"{file}: `settings.{setting}` names a file of Secret {secret} by hand; give release "
                    f"{release} a mount of it in {MAP_FILE} (secrets.{secret}.mounts.{release}.settings) and "
                    "remove the setting here"
                )


def named_secrets(merged: dict[str, Any], secret_map: SecretMap) -> Iterator[tuple[KeyPath, str]]:
    """(key path, Secret name) of every Secret the values name (see NAME_KEYS)."""
    for path, value in _walk(merged):
        if not isinstance(value, str) or not value:
            continue
        key = next((str(p) for p in reversed(path) if isinstance(p, str)), "")
        mount_name = key == "name" and len(path) >= 3 and path[-3] == "secretMounts"
        if mount_name or key in NAME_KEYS or ("secret" in key.lower() and value in secret_map.secrets):
            yield path, value


def _holder(layers: Layers, path: KeyPath, value: str) -> str:
    """The last file that sets `path` to `value` (the one that wins)."""
    holders = [file for file, data in layers if _get(data, path) == value]
    return holders[-1] if holders else "the merged values"


def check_names(
    release: str, secret_map: SecretMap, layers: Layers, merged: dict[str, Any], mounts: bool
) -> None:
    """The merged values name exactly the Secrets the map gives `release`; `layers`: every file merged,
    the chart's values.yaml first, to name the one that holds a wrong name; `mounts`: the chart takes
    generated mounts (charts/microservice)."""
    given = set(secret_map.secrets_for(release))
    named: set[str] = set()
    for path, name in named_secrets(merged, secret_map):
        named.add(name)
        if name in given:
            continue
        file, key = _holder(layers, path, name), _dotted(path)
        if name not in secret_map.secrets:
            raise ConfigError(
                f"{file}: release {release} names Secret {name} (`{key}`), which {MAP_FILE} does not "
                f"declare; declare it there with {release} as a consumer, or fix the name"
            )
        raise ConfigError(
            f"{file}: release {release} names Secret {name} (`{key}`) but {MAP_FILE} does not give it to "
            f"{release}; add {release} to secrets.{name}.consumers there (so its checksum and rotation cover "
            "it), or fix the name"
        )
    for name in sorted(given - named):
        fix = (
            f"give it a mount there (secrets.{name}.mounts.{release})"
            if mounts
            else f"name it in its values (e.g. `existingSecret: {name}`)"
        )
        raise ConfigError(
            f"{MAP_FILE}: release {release} is a consumer of Secret {name} but its values never name it; "
            f"{fix} or remove {release} from secrets.{name}.consumers"
        )


def check_chart_takes_mounts(
    release: str, chart: str | None, defaults: dict[str, Any], secret_map: SecretMap
) -> None:
    """A mount needs a chart that renders `secretMounts` (its values.yaml declares the key)."""
    if "secretMounts" in defaults:
        return
    for name, spec in secret_map.secrets.items():
        if release in spec.mounts:
            raise ConfigError(
                f"{MAP_FILE}: secrets.{name}.mounts.{release}: the chart of release {release} "
                f"({chart or 'an upstream chart'}) takes no `secretMounts`; list {release} under "
                f"secrets.{name}.consumers and name the Secret in its values instead"
            )

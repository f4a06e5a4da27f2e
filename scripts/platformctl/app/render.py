"""`platformctl render`: the own charts of ENV's release plan rendered with helm, one file per release.

Uses the generated values when `platformctl values` has written them; otherwise it renders with the
image pins from versions.yaml and the Secret mounts of values/secrets-map.yaml (neither needs Vault) and
says that secret checksums are missing.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from platformctl.adapters import atomic
from platformctl.adapters.tools import find_tool
from platformctl.app import release_plan
from platformctl.app.secret_mounts import mount_values
from platformctl.app.values import COMPANION_IMAGES
from platformctl.config import secret_map, versions
from platformctl.config.paths import repo_root
from platformctl.config.release import Release
from platformctl.context import Context, render_table
from platformctl.errors import ConfigError


def values_args(release: Release, root: Path) -> tuple[list[str], bool]:
    """`-f` flags for a release's values files, and whether its generated values exist.

    Without generated values (`platformctl values` needs Vault), the image pin comes from versions.yaml
    and the Secret mounts and `*_FILE` settings from the secret map, as `platformctl values` writes them.
    """
    args: list[str] = []
    generated = True
    for values_file in release.values_files:
        path = root / values_file
        if path.is_file():
            args += ["-f", str(path)]
        elif "/generated/" in values_file:
            generated = False
    pins = versions.load().images
    image = pins.get(release.name)
    if not generated and image:
        pin = f"image.repository={image.repository},image.tag={image.tag}"
        pin += f",image.digest={image.digest}" if image.digest else ""
        for name, key in COMPANION_IMAGES.get(release.name, {}).items():
            pin += f",{key}.image.repository={pins[name].repository},{key}.image.tag={pins[name].tag}"
        args += ["--set-string", pin]
    if not generated:
        args += _mount_args(mount_values(secret_map.load(), release.name))
    return args, generated


def _mount_args(mounts: dict[str, Any]) -> list[str]:
    """`--set` flags for what secret_mounts.mount_values generates (Secret names and file paths only)."""
    args: list[str] = []
    if "secretMounts" in mounts:
        args += ["--set-json", f"secretMounts={json.dumps(mounts['secretMounts'])}"]
    if "migration" in mounts:
        args += ["--set-json", f"migration.secretMounts={json.dumps(mounts['migration']['secretMounts'])}"]
    if "settings" in mounts:
        args += ["--set-string", ",".join(f"settings.{k}={v}" for k, v in mounts["settings"].items())]
    return args


def helm_template_args(release: Release, root: Path) -> tuple[list[str], bool]:
    """argv for `helm template` of one release, and whether its generated values exist."""
    if release.chart_path is None:
        raise ConfigError(f"{release.name} is an upstream chart; only own charts are rendered")
    values, generated = values_args(release, root)
    helm = str(find_tool("helm"))
    chart = str(root / release.chart_path)
    return [helm, "template", release.name, chart, "--namespace", release.namespace, *values], generated


def manifests(release: Release, root: Path, api_versions: Sequence[str] = ()) -> list[dict[str, Any]]:
    """An own chart's rendered objects (helm template), for the models that read them (capacity,
    alerting); `api_versions` as a cluster would offer them (e.g. a CRD installed in wave 0)."""
    args, _ = helm_template_args(release, root)
    for api in api_versions:
        args += ["--api-versions", api]
    proc = subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(f"helm template {release.name} failed: {last}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def render_release(release: Release, root: Path, out_dir: Path) -> tuple[str, bool]:
    args, generated = helm_template_args(release, root)
    result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(f"helm template {release.name} failed: {last}")
    target = out_dir / f"{release.name}.yaml"
    atomic.write_file(target, result.stdout.encode())
    return str(target.relative_to(root)), generated


def run(ctx: Context, out_dir: Path | None = None) -> int:
    root = repo_root()
    target = out_dir or root / "reports" / "rendered" / ctx.env
    with ctx.step(f"release plan for {ctx.env}"):
        releases = [r for r in release_plan.from_terraform(ctx.env) if r.chart_path]
    with atomic.writing(target):
        target.mkdir(parents=True, exist_ok=True)
    rows = []
    for release in releases:
        path, generated = render_release(release, root, target)
        rows.append([release.name, release.namespace, path, "yes" if generated else "no (run `make values`)"])
    ctx.say(render_table(["release", "namespace", "manifest", "generated values"], rows))
    return 0

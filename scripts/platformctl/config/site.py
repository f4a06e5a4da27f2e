"""Site profile: how one installation site differs from the repository's defaults, in one reviewed file.

A site is where `apply` runs: a laptop with kind (no profile needed), a company cluster that already
exists, or the local test harness that can neither install Terraform's helm/kind providers nor pull the
upstream images. The profile (`PLATFORMCTL_SITE` / `make apply SITE=FILE`) may say, each with a reason:

- `cluster.kube_context`: deploy onto this existing cluster (kubeconfig from $KUBECONFIG); the cluster
  stack is then not applied: nothing is provisioned, only the connection is passed on;
- `images.delivery`: how built images reach the nodes (`kind`, `docker`: the nodes' runtime is the Docker
  daemon at $DOCKER_HOST, `registry`, `none`);
- `installer`: `terraform` (stacks/platform, the default) or `helm` (the same release plan installed with
  pyhelm3, for sites where the Terraform helm provider cannot be installed);
- `skip_releases`: planned releases this site does not install, each with its reason;
- `values_overlay`: a folder of `<release>.yaml` files layered after the generated values (e.g. stand-in
  images, a site's S3 endpoint).

Everything a profile replaces is printed at the start of `apply`, so no run hides what it did not do.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from platformctl.config import configfile, environments
from platformctl.config.paths import repo_root
from platformctl.errors import ConfigError

ENV_VAR = "PLATFORMCTL_SITE"
Delivery = Literal["kind", "docker", "registry", "none"]
_NAME = r"^[a-z0-9]([a-z0-9-]{0,51}[a-z0-9])?$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reasoned(_Strict):
    reason: str = Field(min_length=3, max_length=300)


class ClusterChoice(Reasoned):
    kube_context: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9@._:/-]+$")


class ImagesChoice(Reasoned):
    delivery: Delivery


class InstallerChoice(Reasoned):
    name: Literal["terraform", "helm"]


class Site(_Strict):
    """The parsed profile; every field is optional and `Site()` is the repository's default behaviour."""

    description: str = ""
    source: str = ""  # the file it came from (filled in by `load`)
    cluster: ClusterChoice | None = None
    images: ImagesChoice | None = None
    installer: InstallerChoice | None = None
    skip_releases: dict[str, str] = Field(default_factory=dict)
    values_overlay: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._/-]+$")

    @property
    def existing_cluster(self) -> bool:
        return self.cluster is not None

    @property
    def installer_name(self) -> str:
        return self.installer.name if self.installer else "terraform"

    def cluster_type(self, env: str) -> str:
        """`existing` for the profile's cluster, else the env's `cluster_type` (kind or eks)."""
        return "existing" if self.cluster else environments.get(env).cluster_type

    def delivery(self, cluster_type: str) -> str:
        """How images reach the nodes: the profile's choice, else kind for kind, registry for EKS, none."""
        if self.images:
            return self.images.delivery
        return {"kind": "kind", "eks": "registry"}.get(cluster_type, "none")

    def terraform_stacks(self) -> tuple[str, ...]:
        """The Terraform stacks apply runs for this site (the others are replaced by the profile)."""
        replaced = {"cluster": self.cluster is not None, "platform": self.installer_name == "helm"}
        return tuple(name for name in ("cluster", "platform") if not replaced[name])

    def overlay_dir(self, root: Path) -> Path | None:
        """The overlay folder, which must lie inside the repository (it is part of what is reviewed)."""
        if not self.values_overlay:
            return None
        folder = (root / self.values_overlay).resolve()
        if not folder.is_relative_to(root.resolve()) or not folder.is_dir():
            raise ConfigError(
                f"{self.source}: values_overlay '{self.values_overlay}' must be a folder in the repository"
            )
        return folder

    def replacements(self) -> list[tuple[str, str]]:
        """(what, why) for everything this profile changes; printed by apply and destroy."""
        rows: list[tuple[str, str]] = []
        if self.cluster:
            rows.append(
                (
                    f"cluster: existing, kube context '{self.cluster.kube_context}' "
                    "(stacks/cluster not applied)",
                    self.cluster.reason,
                )
            )
        if self.images:
            rows.append((f"images delivered by: {self.images.delivery}", self.images.reason))
        if self.installer:
            rows.append((f"releases installed by: {self.installer.name}", self.installer.reason))
        rows += [(f"release not installed: {name}", why) for name, why in sorted(self.skip_releases.items())]
        if self.values_overlay:
            rows.append(
                (f"values overlay: {self.values_overlay}/<release>.yaml", "after the generated values")
            )
        return rows


def parse(text: str, source: str) -> Site:
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({str(exc).splitlines()[0]}); fix the file") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a site profile is a mapping (see docs/configuration.md)")
    try:
        site = Site.model_validate({**raw, "source": source})
    except ValidationError as exc:
        where, message = configfile.first_problem(exc)
        raise ConfigError(f"{source}: {where}: {message}; see docs/configuration.md") from None
    for name, reason in site.skip_releases.items():
        if not re.match(_NAME, name) or len(reason.strip()) < 3:
            raise ConfigError(f"{source}: skip_releases.{name}: a release name and a reason are required")
    return site


def load(environ: dict[str, str] | None = None) -> Site:
    """The profile named by PLATFORMCTL_SITE (a path, relative to the repository or absolute), else none."""
    value = (environ if environ is not None else os.environ).get(ENV_VAR, "").strip()
    if not value:
        return Site()
    path = Path(value)
    path = path if path.is_absolute() else repo_root() / path
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{ENV_VAR}={value}: cannot read the site profile ({exc.strerror})") from None
    return parse(text, value)

"""Namespaces of the release plan, with their Pod Security labels: created by platformctl and nobody else.

They must exist before `secrets sync` writes the first Secret, so they cannot belong to the releases'
installer (Terraform's stacks/platform or the pyhelm3 installer both run later and use
`create_namespace = false`). Server-side apply as field manager `platformctl`: a rerun changes nothing.
The facts (which namespaces are the cluster's own, which need a Pod Security exception) live in
values/namespaces.yaml.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from platformctl.adapters.kube import FIELD_MANAGER, MANAGED_BY, call
from platformctl.config.paths import repo_root
from platformctl.errors import ConfigError, KubernetesError

Level = Literal["privileged", "baseline", "restricted"]


class Policy(BaseModel):
    """values/namespaces.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    unmanaged: list[str]
    pod_security: dict[str, Level]


def policy_file() -> Path:
    return repo_root() / "values" / "namespaces.yaml"


def load_policy(path: Path | None = None) -> Policy:
    path = path or policy_file()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        return Policy.model_validate(raw)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror}); restore it from git") from None
    except (yaml.YAMLError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"{path}: invalid ({first}); see the comment at its top") from None


def manifests(names: Iterable[str], policy: Policy) -> list[dict[str, Any]]:
    """One Namespace per planned namespace the platform owns, in name order.

    `kubernetes.io/metadata.name` is set too: Kubernetes sets it itself from 1.21 on (the same value),
    1.20 does not, and the charts' NetworkPolicies select namespaces by it.
    """
    out = []
    for name in sorted(set(names) - set(policy.unmanaged)):
        labels = {
            "pod-security.kubernetes.io/enforce": policy.pod_security.get(name, "restricted"),
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/audit": "restricted",
            "kubernetes.io/metadata.name": name,
            **MANAGED_BY,
        }
        out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    return out


@dataclass(frozen=True)
class Outcome:
    name: str
    enforce: str
    action: str  # created, updated, unchanged, deleted, absent, not ours

    def cells(self) -> list[str]:
        return [self.name, self.enforce, self.action]


HEADERS = ["namespace", "pod security", "action"]


class Namespaces:
    """Applies and deletes the platform's namespaces through the kubernetes client."""

    def __init__(self, client: Any) -> None:
        from kubernetes import client as k8s

        self.core = k8s.CoreV1Api(client)

    def _read(self, name: str) -> dict[str, Any] | None:
        response = call(
            f"reading namespace {name}", lambda: self.core.read_namespace(name, _preload_content=False), True
        )
        return None if response is None else dict(json.loads(response.data))

    def apply(self, manifest: dict[str, Any], dry_run: bool = False) -> Outcome:
        name = manifest["metadata"]["name"]
        enforce = manifest["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        before = self._read(name)
        if before and (before.get("status") or {}).get("phase") == "Terminating":
            raise KubernetesError(
                f"namespace {name} is still being deleted (a `destroy` not finished?); wait and rerun"
            )
        labels = (before or {}).get("metadata", {}).get("labels") or {}
        wanted = manifest["metadata"]["labels"]
        if before and all(labels.get(k) == v for k, v in wanted.items()):
            return Outcome(name, enforce, "unchanged")
        if not dry_run:
            call(
                f"applying namespace {name}",
                lambda: self.core.patch_namespace(
                    name,
                    manifest,
                    field_manager=FIELD_MANAGER,
                    force=True,
                    _content_type="application/apply-patch+yaml",
                    _preload_content=False,
                ),
            )
        return Outcome(name, enforce, "updated" if before else "created")

    def delete(self, name: str, dry_run: bool = False) -> Outcome:
        """Delete a namespace platformctl created; one it did not label as its own is left alone."""
        found = self._read(name)
        if found is None:
            return Outcome(name, "-", "absent")
        labels = found.get("metadata", {}).get("labels") or {}
        enforce = labels.get("pod-security.kubernetes.io/enforce", "-")
        if any(labels.get(k) != v for k, v in MANAGED_BY.items()):
            return Outcome(name, enforce, "not ours")
        if not dry_run:
            call(
                f"deleting namespace {name}",
                lambda: self.core.delete_namespace(name, _preload_content=False),
                missing_ok=True,
            )
        return Outcome(name, enforce, "deleted")

    def wait_gone(self, names: list[str], timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while left := [n for n in names if self._read(n) is not None]:
            if time.monotonic() > deadline:
                raise KubernetesError(
                    f"namespace(s) {', '.join(left)} still terminating after {timeout:.0f}s; "
                    "check `kubectl get namespace` for stuck finalizers"
                )
            time.sleep(2)


def ensure(api: Namespaces, planned: Iterable[str], dry_run: bool = False) -> list[Outcome]:
    """Create or relabel every planned namespace (before any Secret); returns one outcome per namespace."""
    return [api.apply(m, dry_run) for m in manifests(planned, load_policy())]


def remove(
    api: Namespaces, planned: Iterable[str], dry_run: bool = False, timeout: float = 300
) -> list[Outcome]:
    """Delete the planned namespaces platformctl owns (after the releases are gone) and wait for them."""
    names = [m["metadata"]["name"] for m in manifests(planned, load_policy())]
    outcomes = [api.delete(n, dry_run) for n in names]
    if not dry_run:
        api.wait_gone([o.name for o in outcomes if o.action == "deleted"], timeout)
    return outcomes

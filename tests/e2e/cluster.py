"""The harness as the glue sees it: kubeconfig, namespaces (as the platform module makes them), pods."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import hcl2
from platformctl.tools import find_tool

PLATFORM_MODULE = Path("terraform/modules/platform/variables.tf")


class E2EError(RuntimeError):
    """A failed e2e step; its message is one line for the user."""


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None, timeout: float = 300) -> str:
    cmd = [str(find_tool("kubectl")), "--kubeconfig", str(kubeconfig), *args]
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise E2EError(f"kubectl {' '.join(args[:3])} failed: {last[:300]}")
    return result.stdout


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps HCL string quotes (`'"restricted"'`); strip them, recursively."""
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items()}
    return value


def module_defaults(root: Path) -> dict[str, Any]:
    """Defaults of the platform module's variables (pod_security_exceptions, unmanaged_namespaces)."""
    with (root / PLATFORM_MODULE).open() as handle:
        parsed = hcl2.load(handle)
    out: dict[str, Any] = {}
    for block in parsed.get("variable", []):
        for name, body in block.items():
            out[_unquote(name)] = _unquote(body.get("default"))
    return out


def namespace_manifests(names: list[str], root: Path) -> list[dict[str, Any]]:
    """The planned namespaces with the labels of `kubernetes_namespace_v1.this` in the platform module.

    `kubernetes.io/metadata.name` is added too: Kubernetes sets it itself from 1.21 on, the 1.20 harness
    does not, and the charts' NetworkPolicies select namespaces by it.
    """
    defaults = module_defaults(root)
    exceptions = defaults.get("pod_security_exceptions") or {}
    unmanaged = set(defaults.get("unmanaged_namespaces") or [])
    out = []
    for name in sorted(set(names) - unmanaged):
        labels = {
            "pod-security.kubernetes.io/enforce": exceptions.get(name, "restricted"),
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/audit": "restricted",
            "app.kubernetes.io/managed-by": "terraform",
            "kubernetes.io/metadata.name": name,
        }
        out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    return out


def _pod_ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def not_ready(core: Any, namespaces: list[str]) -> list[str]:
    """Pods (ns/name) that should serve but are not Ready; finished Job pods do not count."""
    waiting = []
    for ns in namespaces:
        for pod in core.list_namespaced_pod(ns).items:
            if pod.status.phase != "Succeeded" and not _pod_ready(pod):
                waiting.append(f"{ns}/{pod.metadata.name}")
    return waiting


def wait_pods_ready(core: Any, namespaces: list[str], timeout: float) -> int:
    """Wait until every pod of `namespaces` is Ready; returns how many pods there are."""
    deadline = time.monotonic() + timeout
    while waiting := not_ready(core, namespaces):
        if time.monotonic() > deadline:
            raise E2EError(f"pods not Ready after {timeout:.0f}s: {', '.join(waiting)}")
        time.sleep(2)
    return sum(len(core.list_namespaced_pod(ns).items) for ns in namespaces)

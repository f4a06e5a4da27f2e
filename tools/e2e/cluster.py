"""kubectl and pod readiness for the e2e driver (the cluster of $KUBECONFIG)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from platformctl.adapters.tools import find_tool


class E2EError(RuntimeError):
    """A failed e2e step; its message is one line for the user."""


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None, timeout: float = 300) -> str:
    cmd = [str(find_tool("kubectl")), "--kubeconfig", str(kubeconfig), *args]
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise E2EError(f"kubectl {' '.join(args[:3])} failed: {last[:300]}")
    return result.stdout


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

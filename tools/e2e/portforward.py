"""`kubectl port-forward` to 127.0.0.1 for the e2e driver (platformctl.adapters.portforward)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from platformctl.adapters import portforward
from platformctl.adapters.tools import find_tool
from platformctl.errors import KubernetesError

from tools.e2e.cluster import E2EError


@contextmanager
def forward(kubeconfig: Path, namespace: str, service: str, port: int, timeout: float = 20) -> Iterator[str]:
    """Yields http://127.0.0.1:<local port> for `service:port` while the forward runs."""
    kubectl = [str(find_tool("kubectl")), "--kubeconfig", str(kubeconfig)]
    try:
        with portforward.forward(kubectl, namespace, service, port, timeout) as local:
            yield f"http://127.0.0.1:{local}"
    except KubernetesError as exc:
        raise E2EError(str(exc)) from None

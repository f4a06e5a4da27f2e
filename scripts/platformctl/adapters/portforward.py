"""`kubectl port-forward` to 127.0.0.1 only, for checks that reach a Service from this machine."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from platformctl.adapters.net import free_port, listening
from platformctl.errors import KubernetesError


@contextmanager
def forward(
    kubectl: Sequence[str], namespace: str, service: str, port: int, timeout: float = 20
) -> Iterator[int]:
    """Yield a local port forwarded to svc/`service`:`port`; the kubectl process is stopped afterwards.

    `kubectl` is the command with its connection flags (binary, --kubeconfig, --context).
    """
    local = free_port()
    args = [*kubectl, "-n", namespace, "port-forward", "--address", "127.0.0.1", f"svc/{service}"]
    proc = subprocess.Popen([*args, f"{local}:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while not listening(local):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise KubernetesError(f"port-forward to {namespace}/{service}:{port} did not come up")
            time.sleep(0.2)
        yield local
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

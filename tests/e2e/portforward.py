"""`kubectl port-forward` to 127.0.0.1 only, stopped by its own PID."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from platformctl.tools import find_tool

from tests.e2e.cluster import E2EError


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def forward(kubeconfig: Path, namespace: str, service: str, port: int, timeout: float = 20) -> Iterator[str]:
    """Yields http://127.0.0.1:<local port> for `service:port` while the forward runs."""
    local = _free_port()
    args = [str(find_tool("kubectl")), "--kubeconfig", str(kubeconfig), "-n", namespace, "port-forward"]
    args += ["--address", "127.0.0.1", f"svc/{service}", f"{local}:{port}"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while not _listening(local):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise E2EError(f"port-forward to {namespace}/{service}:{port} did not come up")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{local}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()

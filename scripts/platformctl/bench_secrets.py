"""Benchmark (not a test): 200 Secrets read from a real OpenBao on loopback and applied to FakeKubeAPI.

Run from the repository root: `.venv/bin/python -m platformctl.bench_secrets`. The Kubernetes side is
the FakeKubeAPI of tests/integration (the real client over HTTP; no cluster exists here). Goal: <= 2 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from platformctl import secrets_sync, vault_dev
from platformctl.paths import repo_root
from platformctl.secret_map import SecretMap
from platformctl.vault import connect

COUNT = 200


def _map() -> SecretMap:
    vault = {f"c{i:03d}": {"username": "fixed:bench", "password": "password"} for i in range(COUNT)}
    secrets = {
        f"bench-{i:03d}": {
            "namespace": "apps",
            "path": f"c{i:03d}",
            "keys": {"username": "username", "password": "password"},
        }
        for i in range(COUNT)
    }
    return SecretMap.model_validate({"mount": "kv", "vault": vault, "secrets": secrets})


@contextmanager
def _fake_kube(workdir: Path) -> Iterator[Path]:
    """The FakeKubeAPI in a process of its own, so that it does not share this process's GIL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.fake_kube", str(workdir)],
        cwd=repo_root(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield Path(proc.stdout.readline().strip())
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=10)


def main() -> int:
    from kubernetes import config

    from platformctl.kube import KubeSecrets

    smap = _map()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "vault-dev.json"
        vault_dev.start(state)
        try:
            vault = connect("bench", environ={}, state=state)
            vault_dev.enable_kv(vault)
            vault_dev.seed(vault, smap)
            with _fake_kube(Path(tmp)) as kubeconfig:
                client = config.new_client_from_config(config_file=str(kubeconfig))
                store = KubeSecrets(client)
                started = time.perf_counter()
                results = secrets_sync.sync(vault, store, smap)
                first = time.perf_counter() - started
                started = time.perf_counter()
                secrets_sync.sync(vault, store, smap)
                second = time.perf_counter() - started
                applied = json.loads(client.call_api("/debug/applies", "GET", _preload_content=False).data)
        finally:
            vault_dev.stop(state)
    print(
        f"secrets sync: {len(results)} secrets, first run (applied: {applied['count']}) {first:.2f}s, "
        f"second run (no change) {second:.2f}s; goal <= 2.00s"
    )
    return 0 if first <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())

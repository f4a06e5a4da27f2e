"""Benchmark (not a test): 200 Secrets read from a real OpenBao on loopback and applied to FakeKubeAPI.

Run from the repository root: `.venv/bin/python -m platformctl.app.bench_secrets [--json FILE]`.
The Kubernetes
side is the FakeKubeAPI of tools/fake_kube.py (the real client over HTTP; no cluster exists here).

Figure: `secrets_sync.sync` of COUNT Secrets into an empty namespace (a first run: every Secret applied).
Reference, in the same run against the same servers: a plain sequential loop of the same Vault reads and
the same Secret applies (into another empty namespace). Each round measures both, alternating which goes
first; the medians are reported. Goal: sync / loop <= 1.5, i.e. checking every Secret before writing it
(the sync also reads each Secret back) costs at most half again what the plain loop costs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from platformctl.adapters.vault import Vault, connect
from platformctl.app import secrets_sync, vault_dev
from platformctl.config.paths import repo_root
from platformctl.config.secret_map import SecretMap

COUNT = 200
ROUNDS = 3
GOAL_MAX_RATIO = 1.5
NAME = "secrets sync (200 secrets)"


def secret_map(count: int = COUNT, namespace: str = "apps") -> SecretMap:
    vault = {f"c{i:03d}": {"username": "fixed:bench", "password": "password"} for i in range(count)}
    secrets = {
        f"bench-{i:03d}": {
            "namespace": namespace,
            "path": f"c{i:03d}",
            "keys": {"username": "username", "password": "password"},
        }
        for i in range(count)
    }
    return SecretMap.model_validate({"mount": "kv", "vault": vault, "secrets": secrets})


@contextmanager
def _fake_kube(workdir: Path) -> Iterator[Path]:
    """The FakeKubeAPI in a process of its own, so that it does not share this process's GIL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.fake_kube", str(workdir)],
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


def plain_loop(vault: Vault, store: secrets_sync.SecretStore, smap: SecretMap) -> None:
    """The reference: each Secret's Vault read, then its apply, one after another; no checks, no threads."""
    for name in sorted(smap.secrets):
        path = smap.secrets[name].path
        want = secrets_sync.desired(smap, {path: vault.read(path)}, vault, [name])[0]
        store.apply(want.manifest)


def measure(vault: Vault, client: Any, count: int = COUNT, rounds: int = ROUNDS) -> dict[str, Any]:
    """Figures of `rounds` rounds; each round syncs into a new namespace and loops into another one."""
    from platformctl.adapters.kube import KubeSecrets

    store = KubeSecrets(client)
    vault_dev.seed(vault, secret_map(count))

    def applies() -> int:
        raw = client.call_api("/debug/applies", "GET", _preload_content=False).data
        return int(json.loads(raw)["count"])

    syncs: list[float] = []
    loops: list[float] = []
    applied = {"sync": 0, "reference": 0}
    for i in range(rounds):
        order = ("reference", "sync") if i % 2 == 0 else ("sync", "reference")
        for what in order:
            before = applies()
            started = time.perf_counter()
            if what == "sync":
                results = secrets_sync.sync(vault, store, secret_map(count, f"sync-{i}"))
                if len(results) != count or not all(r.changed for r in results):
                    raise RuntimeError("the sync into an empty namespace did not apply every Secret")
            else:
                plain_loop(vault, store, secret_map(count, f"reference-{i}"))
            (syncs if what == "sync" else loops).append(time.perf_counter() - started)
            applied[what] += applies() - before
    started = time.perf_counter()
    unchanged = secrets_sync.sync(vault, store, secret_map(count, f"sync-{rounds - 1}"))
    second = time.perf_counter() - started
    if any(r.changed for r in unchanged):
        raise RuntimeError("a second sync with nothing changed in Vault changed Secrets")
    return {
        "count": count,
        "rounds": rounds,
        "sync_s": syncs,
        "reference_s": loops,
        "applies": applied,
        "second_run_s": second,
    }


def row(figures: dict[str, Any]) -> dict[str, Any]:
    """The row for `platformctl bench` (see platformctl.commands.bench)."""
    return {
        "name": NAME if figures["count"] == COUNT else f"secrets sync ({figures['count']} secrets)",
        "unit": "s",
        "figure": statistics.median(figures["sync_s"]),
        "reference": statistics.median(figures["reference_s"]),
        "reference_is": "(plain sequential loop)",
        "goal": {"max": GOAL_MAX_RATIO},
    }


def run(count: int = COUNT, rounds: int = ROUNDS) -> dict[str, Any]:
    """Start a dev OpenBao and the FakeKubeAPI on loopback, measure, stop both."""
    from kubernetes import config

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "vault-dev.json"
        vault_dev.start(state)
        try:
            vault = connect("bench", environ={}, state=state)
            vault_dev.enable_kv(vault)
            with _fake_kube(Path(tmp)) as kubeconfig:
                client = config.new_client_from_config(config_file=str(kubeconfig))
                return measure(vault, client, count, rounds)
        finally:
            vault_dev.stop(state)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the row for `platformctl bench` to this file")
    parser.add_argument("--count", type=int, default=COUNT, help=f"Secrets per sync (default {COUNT})")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"rounds (default {ROUNDS})")
    args = parser.parse_args(argv)
    figures = run(args.count, args.rounds)
    result = row(figures)
    times = " ".join(f"{s:.2f}s" for s in figures["sync_s"])
    loops = " ".join(f"{s:.2f}s" for s in figures["reference_s"])
    print(
        f"secrets sync: {figures['count']} secrets x {figures['rounds']} rounds; sync (first run, "
        f"{figures['applies']['sync']} applies): {times}; plain loop of the same reads + applies "
        f"({figures['applies']['reference']} applies): {loops}; second run (no change) "
        f"{figures['second_run_s']:.2f}s; median ratio {result['figure'] / result['reference']:.2f}, "
        f"goal <= {GOAL_MAX_RATIO:.2f}"
    )
    if args.json:
        args.json.write_text(json.dumps({"rows": [result], "figures": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

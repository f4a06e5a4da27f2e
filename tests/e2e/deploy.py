"""End-to-end deployment of the own charts on the current cluster (built for the local k8s harness).

    source <harness home>/env          # KUBECONFIG and DOCKER_HOST of the harness
    .venv/bin/python -m tests.e2e.deploy up     # build, vault dev, secrets sync, values, install
    .venv/bin/python -m tests.e2e.deploy smoke  # platformctl smoke (with the seed flow)
    .venv/bin/python -m tests.e2e.deploy resilience  # rotations and a pod deletion under load
    .venv/bin/python -m tests.e2e.deploy down   # uninstall, delete namespaces, stop the dev Vault
    .venv/bin/python -m tests.e2e.deploy all    # up, smoke, resilience, then always down

Uses the glue as a library (platformctl.vault_dev, secrets_sync, values, kube, releases) and the release
plan from terraform/stacks/release-plan. Upstream charts and minio are skipped and listed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from kubernetes import client as k8s_client
from platformctl import kube, secret_map, secrets_sync, vault, vault_dev, versions
from platformctl import releases as helm_releases
from platformctl import values as values_mod
from platformctl.context import Context, render_table
from platformctl.errors import PlatformError
from platformctl.paths import repo_root, state_dir

from tests.e2e import images, s3_stand_in
from tests.e2e.cluster import (
    E2EError,
    kubectl,
    namespace_manifests,
    wait_pods_ready,
)
from tests.e2e.releases import Planned, install, plan, uninstall
from tests.e2e.resilience import run_pod_deletion, run_rotation


class Run:
    """One driver run: env, kubeconfig of the test cluster, timings, output."""

    def __init__(self, env: str, kubeconfig: Path, ctx: Context) -> None:
        self.env, self.kubeconfig, self.ctx = env, kubeconfig, ctx
        self.root = repo_root()
        self.timings: list[list[str]] = []
        self.vault_state = state_dir() / "e2e" / "vault-dev.json"
        self.vault_log = self.vault_state.parent / "vault-dev.log"

    @contextmanager
    def timed(self, what: str) -> Iterator[None]:
        self.ctx.progress(what)
        started = time.monotonic()
        yield
        self.timings.append([what, f"{time.monotonic() - started:.1f}s"])

    def helm(self) -> helm_releases.Client:
        return helm_releases.client(str(self.kubeconfig))

    def plan(self) -> list[Planned]:
        planned, _ = plan(self.env, self.root / "terraform")
        return planned


def build_images(run: Run, pins: versions.Versions) -> None:
    for item in images.plan_builds(run.root, pins):
        seconds = images.build(item)
        run.timings.append([f"image {item.tag}", f"{seconds:.1f}s"])


def create_namespaces(run: Run, planned: list[Planned]) -> list[str]:
    manifests = namespace_manifests([p.namespace for p in planned], run.root)
    kubectl(
        run.kubeconfig,
        "apply",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests}),
    )
    return [m["metadata"]["name"] for m in manifests]


def secrets_and_values(run: Run, planned: list[Planned], pins: versions.Versions) -> kube.KubeSecrets:
    """`vault dev` (own state file, free port) + `secrets sync` + `values` for the env, as the glue does."""
    smap = secret_map.load()
    data, seeded = vault_dev.up(run.vault_state, smap)
    run.ctx.progress(f"dev Vault at {data['address']}; seeded: {', '.join(seeded) or 'none (reused)'}")
    client = vault.connect(run.env, smap.mount, environ={}, state=run.vault_state)
    store = kube.KubeSecrets(kube.api_client(run.env, str(run.kubeconfig)))
    results = secrets_sync.sync(client, store, smap)
    run.ctx.say(
        render_table(
            ["secret", "namespace", "keys", "vault version", "changed"], secrets_sync.table_rows(results)
        )
    )
    releases = [values_mod.Release(p.name, p.namespace, p.chart_path, p.values_files) for p in planned]
    entries = client.read_many(values_mod.needed_paths(smap, releases))
    written = values_mod.run(releases, smap, entries, values_mod.pinned_images(pins), run.root)
    run.ctx.progress(f"generated values: {sum(1 for *_, changed in written if changed)} file(s) changed")
    return store


def install_all(run: Run, planned: list[Planned]) -> list[list[str]]:
    helm = run.helm()
    rows = []
    for release in planned:
        if release.skip_reason:
            rows.append([release.name, release.namespace, str(release.wave), "skipped", release.skip_reason])
            continue
        run.ctx.progress(f"helm install {release.name} (wave {release.wave}, timeout {release.timeout}s)")
        seconds = install(helm, release, run.root)
        run.timings.append([f"install {release.name}", f"{seconds:.1f}s"])
        rows.append([release.name, release.namespace, str(release.wave), "installed", f"{seconds:.1f}s"])
    return rows


def up(run: Run, build: bool, pods_timeout: float) -> None:
    pins = versions.load()
    if build:
        with run.timed("image builds (total)"):
            build_images(run, pins)
    with run.timed("release plan (terraform)"):
        planned = run.plan()
    with run.timed("namespaces, vault dev, secrets sync, values"):
        namespaces = create_namespaces(run, planned)
        store = secrets_and_values(run, planned, pins)
    with run.timed("S3 stand-in (SeaweedFS) Ready"):
        s3_stand_in.config_secret(store)
        s3_stand_in.deploy(run.kubeconfig, str(pins.tools["weed"].version))
    started = time.monotonic()
    rows = install_all(run, planned)
    core = k8s_client.CoreV1Api(kube.api_client(run.env, str(run.kubeconfig)))
    pods = wait_pods_ready(core, namespaces, pods_timeout)
    run.timings.append([f"install -> all {pods} pods Ready", f"{time.monotonic() - started:.1f}s"])
    run.ctx.say(render_table(["release", "namespace", "wave", "result", "time / reason"], rows))


def smoke(run: Run) -> None:
    """`platformctl smoke` (issue 7, step 4), with the releases this cluster cannot have declared skipped."""
    skips = [f"--skip={p.name}={p.skip_reason}" for p in run.plan() if p.skip_reason]
    junit = run.root / "reports" / "junit" / "e2e-smoke.xml"
    argv = [sys.executable, "-m", "platformctl.cli", "--env", run.env, "smoke", "--junit", str(junit), *skips]
    with run.timed("smoke"):
        code = subprocess.run(
            argv, env={**os.environ, "KUBECONFIG": str(run.kubeconfig)}, check=False
        ).returncode
    if code:
        raise E2EError(f"platformctl smoke failed (exit {code}); see its table above and {junit}")


def resilience(run: Run) -> None:
    """Steps 5 and 6 of issue 7: rotations and a pod deletion under an in-cluster login load."""
    api = kube.api_client(run.env, str(run.kubeconfig))
    core, batch = k8s_client.CoreV1Api(api), k8s_client.BatchV1Api(api)
    auth = versions.load().images["auth"]
    image = f"{auth.repository}:{auth.tag}"
    with run.timed("rotation under load (JWT key, database password)"):
        rows = run_rotation(core, batch, run.kubeconfig, run.vault_state, image)
    with run.timed("pod deletion under load"):
        rows += run_pod_deletion(core, batch, image)
    rows.append(["MinIO pool expansion", "not possible here: no MinIO image can be built on this machine"])
    run.ctx.say(render_table(["resilience check", "result"], rows))


def down(run: Run) -> None:
    planned = run.plan()
    helm = run.helm()
    for release in reversed(planned):
        if not release.skip_reason and uninstall(helm, release):
            run.ctx.progress(f"uninstalled {release.name}")
    names = [m["metadata"]["name"] for m in namespace_manifests([p.namespace for p in planned], run.root)]
    with run.timed("delete namespaces"):
        kubectl(
            run.kubeconfig, "delete", "namespace", "--ignore-not-found", "--wait", "--timeout=300s", *names
        )
    if vault_dev.stop(run.vault_state):
        run.ctx.progress("dev Vault stopped")
    run.vault_log.unlink(missing_ok=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.e2e.deploy",
        description="Deploy the own charts end to end on the cluster of $KUBECONFIG (the local k8s harness): "
        "stand-in images, dev Vault, secrets sync, values, namespaces, helm installs in plan order.",
    )
    parser.add_argument(
        "action",
        nargs="?",
        default="all",
        choices=["up", "smoke", "resilience", "down", "all"],
        help="up: deploy and leave running; smoke: platformctl smoke (seed flow included); resilience: "
        "rotations and a pod deletion under load; down: remove everything; all: up, smoke, resilience, down",
    )
    parser.add_argument("--env", default="dev", choices=["dev"], help="only dev: it uses `vault dev`")
    parser.add_argument("--no-build", action="store_true", help="use the images already in the docker")
    parser.add_argument("--pods-timeout", type=float, default=300, help="seconds for all pods Ready")
    return parser.parse_args(argv)


def execute(args: argparse.Namespace, run: Run) -> None:
    try:
        if args.action in ("up", "all"):
            up(run, not args.no_build, args.pods_timeout)
        if args.action in ("smoke", "all"):
            smoke(run)
        if args.action in ("resilience", "all"):
            resilience(run)
    finally:
        if args.action in ("down", "all"):
            down(run)
        if run.timings:
            run.ctx.say(render_table(["step", "time"], run.timings))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ctx = Context(env=args.env, out=sys.stdout, err=sys.stderr)  # the streams of now (pytest swaps them)
    source = os.environ.get("KUBECONFIG")
    if not source or not Path(source).is_file():
        print(
            "error: KUBECONFIG must name the cluster's kubeconfig (`source <harness home>/env`)",
            file=sys.stderr,
        )
        return 2
    # The glue accepts only the env's own context unless told otherwise: the test cluster's is whatever
    # its kubeconfig calls current.
    current = yaml.safe_load(Path(source).read_text()).get("current-context", "")
    os.environ.setdefault("PLATFORMCTL_KUBE_CONTEXT", current)
    try:
        execute(args, Run(args.env, Path(source), ctx))
    except (E2EError, PlatformError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

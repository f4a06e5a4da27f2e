"""The end-to-end run (`make e2e`): the product's own make targets on the cluster of $KUBECONFIG.

Made for the local k8s harness (tools/e2e/README.md). In order, from an empty cluster:
  1. stand-in images for the upstream images the harness cannot pull (postgres, rabbitmq, an S3 store);
  2. `platformctl vault dev`, then the site's S3 store (SeaweedFS in e2e-s3) with the notifications key;
  3. `make apply ENV=dev SITE=tools/e2e/site.yaml`  (namespaces, images, secrets, values, releases, smoke);
  4. `make smoke`;  backup and restore: users created, `make backup`, deleted, `make restore` (refused
  without FORCE=1), the same users log in, then the PostgreSQL pod deleted and the data still there;
  5. `make rotate` of the JWT key and the database password under an in-cluster login
  load;  6. pod deletion under load; the RabbitMQ pod deleted under load, every login with exactly one
  notification (the login event outbox);  7. a second `make apply` that must change nothing;
  8. `make plan` shows no change;  9. `make destroy`;  10. nothing of the project left: no namespace,
  release, dev Vault or port-forward.
What the site profile replaces is printed by apply itself; the driver prints its timings at the end.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml
from kubernetes import client as k8s_client
from platformctl.adapters import kube, vault
from platformctl.app import vault_dev
from platformctl.config import versions
from platformctl.config.paths import repo_root
from platformctl.context import render_table

from tools.e2e import images, s3_stand_in
from tools.e2e.backup_restore import run_backup_restore
from tools.e2e.cluster import E2EError, not_ready
from tools.e2e.outbox_broker_restart import run_broker_restart
from tools.e2e.resilience import run_pod_deletion, run_rotation

SITE = "tools/e2e/site.yaml"
NAMESPACES = ("apps", "data", "platform")
SECOND_APPLY_GOAL = 60.0
LOCK_WAIT = 30 * 60.0  # another run on the same cluster (a second checkout) is waited for, this long


def exclusive(kubeconfig: Path, wait: float = LOCK_WAIT) -> int:
    """An exclusive lock on the cluster's kubeconfig: two runs on one cluster overwrite each other's
    Secrets and delete each other's namespaces. Waits (saying so each minute) for a run that holds it."""
    handle = os.open(kubeconfig, os.O_RDONLY)
    deadline, said = time.monotonic() + wait, 0.0
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(handle)
                raise E2EError(f"another e2e run holds {kubeconfig} for over {wait:.0f}s; stop it") from None
            if time.monotonic() - said >= 60:
                print(f"e2e: another run uses this cluster (lock on {kubeconfig}); waiting", flush=True)
                said = time.monotonic()
            time.sleep(2)


class Driver:
    def __init__(self, kubeconfig: Path) -> None:
        self.root = repo_root()
        self.kubeconfig = kubeconfig
        self.make = ["make", "--no-print-directory", "-C", str(self.root), "ENV=dev", f"SITE={SITE}"]
        self.timings: list[list[str]] = []
        api = kube.api_client("dev", str(kubeconfig))
        self.core, self.batch = k8s_client.CoreV1Api(api), k8s_client.BatchV1Api(api)

    def step(self, title: str, argv: list[str], env: dict[str, str] | None = None) -> str:
        """Run one command, its output streamed and kept; time it; fail with its exit code."""
        shown = ["make", *argv[4:]] if argv[0] == "make" else argv
        print(f"\n=== e2e: {title}: {' '.join(shown)}", flush=True)
        started = time.monotonic()
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env or dict(os.environ)
        )
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line)
        code = proc.wait()
        elapsed = time.monotonic() - started
        self.timings.append([title, f"{elapsed:.1f}s"])
        if code:
            raise E2EError(f"{title} failed (exit {code}); its output is above")
        return "".join(lines)

    def timed(self, title: str, seconds: float) -> None:
        self.timings.append([title, f"{seconds:.1f}s"])

    def apply_steps(self, output: str) -> None:
        """apply's own step timings (`==> <step> (dev): done in Ns`), indented under it."""
        for step, seconds in re.findall(r"^==> (.+?) \(dev\): done in ([\d.]+)s$", output, re.MULTILINE):
            self.timings.append([f"  {step}", f"{seconds}s"])

    def stand_ins(self) -> None:
        for item in images.plan_builds(versions.load()):
            self.timed(f"stand-in image {item.tag}", images.build(item))

    def site_s3(self) -> None:
        self.step(
            "dev Vault (platformctl vault dev)", [str(self.root / ".venv/bin/platformctl"), "vault", "dev"]
        )
        started = time.monotonic()
        store = kube.KubeSecrets(kube.api_client("dev", str(self.kubeconfig)))
        s3_stand_in.deploy(self.kubeconfig, store, str(versions.load().tools["weed"].version))
        self.timed("site S3 store (SeaweedFS) Ready", time.monotonic() - started)

    def pods_ready(self) -> int:
        waiting = not_ready(self.core, list(NAMESPACES))
        if waiting:
            raise E2EError(f"after apply, pods not Ready: {', '.join(waiting)}")
        return sum(len(self.core.list_namespaced_pod(ns).items) for ns in NAMESPACES)

    def ready_after(self, output: str, started: float) -> float:
        """Seconds from the start of apply to the end of its releases step (helm waited for every pod)."""
        total = time.monotonic() - started
        smoke = re.search(r"^==> smoke \(dev\): done in ([\d.]+)s$", output, re.MULTILINE)
        return total - (float(smoke.group(1)) if smoke else 0.0)

    def auth_image(self) -> str:
        image = yaml.safe_load((self.root / "values/generated/dev/auth.yaml").read_text())["image"]
        return f"{image['repository']}:{image['tag']}"

    def resilience(self) -> None:
        started = time.monotonic()
        rows = run_rotation(self.core, self.batch, self.kubeconfig, self.make, self.auth_image())
        self.timed("rotation under load", time.monotonic() - started)
        started = time.monotonic()
        rows += run_pod_deletion(self.core, self.batch, self.auth_image())
        self.timed("pod deletion under load", time.monotonic() - started)
        started = time.monotonic()
        outbox = run_broker_restart(self.core, self.batch, self.kubeconfig, self.auth_image())
        rows += outbox.rows()
        self.timed("RabbitMQ pod deleted under load (login event outbox)", time.monotonic() - started)
        rows.append(["MinIO pool expansion", "not possible here: no MinIO image can be had on this machine"])
        print(render_table(["resilience check", "result"], rows), flush=True)

    def backup_restore(self) -> None:
        """make backup, users deleted, make restore, the same users log in; the PostgreSQL pod deleted."""
        started = time.monotonic()
        figures = run_backup_restore(self.kubeconfig, self.make)
        self.timed("backup, restore, PostgreSQL pod deletion", time.monotonic() - started)
        print(render_table(["backup and restore", "result"], figures.rows()), flush=True)

    def second_apply(self) -> None:
        output = self.step("second make apply (no change)", [*self.make, "apply"])
        self.apply_steps(output)
        changed = re.findall(r"^(\S+)\s+\S+\s+\d+\s+(installed|upgraded)\s", output, re.MULTILINE)
        built = re.findall(r"^(\S+)\s+built in", output, re.MULTILINE)
        if changed or built:
            raise E2EError(f"the second apply changed something: releases {changed}, images built {built}")
        seconds = float(next(t for t in reversed(self.timings) if t[0].startswith("second"))[1].rstrip("s"))
        verdict = "ok" if seconds < SECOND_APPLY_GOAL else f"MISSED the {SECOND_APPLY_GOAL:.0f}s goal"
        print(f"second apply: {seconds:.1f}s, nothing installed or built ({verdict})", flush=True)

    def plan_shows_no_change(self) -> None:
        """`make plan` on the deployed env: the pyhelm3 installer's preview must say no change for all."""
        output = self.step("make plan (deployed, nothing to change)", [*self.make, "plan"])
        would = re.findall(r"^(\S+)\s+\S+\s+\d+\s+(would \w+)", output, re.MULTILINE)
        unchanged = re.findall(r"^(\S+)\s+\S+\s+\d+\s+no change\s", output, re.MULTILINE)
        if would or not unchanged:
            raise E2EError(f"make plan after apply: expected no change, got {would or 'no release rows'}")
        print(f"make plan: {len(unchanged)} releases, no change", flush=True)

    def nothing_left(self) -> None:
        # Helm keeps its release records in the releases' namespaces: no namespace, no release.
        owned = self.core.list_namespace(label_selector="app.kubernetes.io/managed-by=platformctl").items
        if owned:
            raise E2EError(f"namespaces left after make destroy: {', '.join(n.metadata.name for n in owned)}")
        if vault_dev.running(vault.state_file()):
            raise E2EError("the dev Vault still runs after make destroy")
        forwards = subprocess.run(
            ["pgrep", "-f", "kubectl.*port-forward"], capture_output=True, text=True, check=False
        ).stdout.split()
        if forwards:
            raise E2EError(f"port-forward processes left: {', '.join(forwards)}")
        print(
            "after make destroy: no namespace, release, dev Vault or port-forward of the project", flush=True
        )

    def leftovers(self) -> list[str]:
        owned = self.core.list_namespace(label_selector="app.kubernetes.io/managed-by=platformctl").items
        names = [n.metadata.name for n in owned]
        if self.core.list_namespace(field_selector=f"metadata.name={s3_stand_in.NAMESPACE}").items:
            names.append(s3_stand_in.NAMESPACE)
        return names

    def clean_start(self) -> None:
        """An interrupted run leaves its namespaces (and the data stores' volumes, initialized with the
        old secrets): remove them with the product's own destroy before starting from an empty cluster."""
        left = self.leftovers()
        if not left:
            return
        print(f"e2e: left over by an interrupted run: {', '.join(left)}; removing them first", flush=True)
        self.step("make destroy (leftovers)", [*self.make, "destroy"])
        s3_stand_in.remove(self.kubeconfig)

    def run(self) -> None:
        self.clean_start()
        self.stand_ins()
        self.site_s3()
        try:
            started = time.monotonic()
            output = self.step("make apply (empty cluster)", [*self.make, "apply"])
            self.apply_steps(output)
            self.timed(
                f"make apply start -> all {self.pods_ready()} pods Ready, releases step done",
                self.ready_after(output, started),
            )
            self.step("make smoke", [*self.make, "smoke"])
            self.backup_restore()
            self.resilience()
            self.second_apply()
            self.plan_shows_no_change()
        finally:
            try:
                self.apply_steps(self.step("make destroy", [*self.make, "destroy"]))
            finally:
                s3_stand_in.remove(self.kubeconfig)
                vault_dev.stop(vault.state_file())  # only matters when destroy failed
        self.nothing_left()


def main() -> int:
    source = os.environ.get("KUBECONFIG")
    if not source or not Path(source).is_file() or not os.environ.get("DOCKER_HOST"):
        print(
            "error: KUBECONFIG and DOCKER_HOST must point at the harness (`source <harness home>/env`)",
            file=sys.stderr,
        )
        return 2
    os.environ["PLATFORMCTL_SITE"] = SITE  # the driver's own kube checks accept the harness's context
    driver = Driver(Path(source))
    started = time.monotonic()
    try:
        exclusive(Path(source))  # held until this process exits
        driver.run()
    except E2EError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        driver.timed("e2e total", time.monotonic() - started)
        print(render_table(["step", "time"], driver.timings), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

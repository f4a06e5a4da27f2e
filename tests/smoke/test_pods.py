"""Inside the running pods of the own services (testinfra's kubectl backend)."""

from __future__ import annotations

from typing import Any

import pytest
import testinfra
from platformctl.adapters import kube
from platformctl.app import smoke
from platformctl.config.release import Release

from tests.smoke import cluster

SECRETS_DIR = "/var/run/secrets/platform"
STAT = "stat -L -c '%a %n'"


def _hosts(service: Release) -> list[Any]:
    selector = f"app.kubernetes.io/instance={service.name}"
    running = [p for p in cluster.live_pods(service.namespace, selector) if p.status.phase == "Running"]
    assert running, f"no running pod of {service.name}"
    config = kube.kubeconfig(cluster.env())
    extra = f"&context={kube.expected_context(cluster.env())}" + (f"&kubeconfig={config}" if config else "")
    return [
        testinfra.get_host(
            f"kubectl://{p.metadata.name}?namespace={service.namespace}"
            f"&container={p.spec.containers[0].name}{extra}"
        )
        for p in running
    ]


def test_main_process_runs_as_uid_1000(service: Release, request: pytest.FixtureRequest) -> None:
    for host in _hosts(service):
        uid_line = next(
            line
            for line in host.file("/proc/1/status").content_string.splitlines()
            if line.startswith("Uid:")
        )
        assert set(uid_line.split()[1:]) == {"1000"}, f"main process: {uid_line}"
    smoke.record(request, "PID 1 real/effective uid 1000")


def test_root_filesystem_refuses_writes(service: Release, request: pytest.FixtureRequest) -> None:
    for host in _hosts(service):
        for target in ("/smoke-write-probe", "/usr/smoke-write-probe"):
            result = host.run(f"touch {target}")
            assert result.rc != 0, f"write to {target} succeeded: the root filesystem is writable"
    smoke.record(request, "touch / and /usr refused")


def test_secret_files_not_world_readable(service: Release, request: pytest.FixtureRequest) -> None:
    for host in _hosts(service):
        # Secret volumes hold symlinks into a hidden `..data` folder: follow them, list each file once.
        listing = host.check_output(f"find -L {SECRETS_DIR} -type f ! -path '*/..*' -exec {STAT} {{}} +")
        modes = [line.split(" ", 1) for line in listing.splitlines() if line.strip()]
        assert modes, f"no Secret files under {SECRETS_DIR}"
        open_files = [name for mode, name in modes if int(mode, 8) & 0o007]
        assert not open_files, f"world-accessible Secret files: {', '.join(open_files)}"
    smoke.record(request, f"{len(modes)} file(s), modes {', '.join(sorted({m for m, _ in modes}))}")

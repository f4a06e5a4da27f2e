"""podwatch: a failed release step names what its pods showed (helm only says "context deadline exceeded").

Pods and events are API-shaped JSON turned into the kubernetes client's own models by its deserializer,
as `list_namespaced_pod` returns them; `Core` below stands in for the API server (which `make test`
cannot run) and returns those lists. The reasons are Kubernetes 1.20's (the harness) and current ones.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client import ApiClient
from platformctl.adapters import podwatch
from platformctl.errors import KubernetesError, TerraformError


class _Response:
    def __init__(self, body: Any) -> None:
        self.data = json.dumps(body)


def models(kind: str, items: list[dict[str, Any]]) -> Any:
    return ApiClient().deserialize(_Response({"items": items}), kind)


def pod(name: str, status: dict[str, Any], deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "apps"}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-03T00:00:00Z"
    return {"metadata": meta, "status": status}


def container(name: str, ready: bool, state: dict[str, Any], last: dict[str, Any] | None = None) -> dict:
    return {
        "name": name,
        "ready": ready,
        "state": state,
        "lastState": last or {},
        "image": "x",
        "imageID": "",
        "restartCount": 3,
    }


CRASHING = pod(
    "users-1",
    {
        "phase": "Running",
        "containerStatuses": [
            container(
                "users",
                False,
                {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting"}},
                {"terminated": {"exitCode": 1, "reason": "Error"}},
            )
        ],
    },
)
NO_IMAGE = pod(
    "auth-1",
    {
        "phase": "Pending",
        "containerStatuses": [
            container(
                "auth",
                False,
                {
                    "waiting": {
                        "reason": "ErrImageNeverPull",
                        "message": 'Container image "platform/auth:0.1.0-abc" is not present',
                    }
                },
            )
        ],
    },
)
UNSCHEDULED = pod(
    "notifications-1",
    {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/1 nodes are available: 1 Insufficient memory.",
            }
        ],
    },
)
NOT_READY = pod(
    "users-2",
    {
        "phase": "Running",
        "containerStatuses": [container("users", False, {"running": {"startedAt": "2026-12-03T00:00:00Z"}})],
    },
)
MIGRATION_FAILED = pod(
    "users-migrate-1",
    {
        "phase": "Pending",
        "initContainerStatuses": [
            container("migrate", False, {"terminated": {"exitCode": 2, "reason": "Error"}})
        ],
    },
)
READY = pod(
    "users-3",
    {
        "phase": "Running",
        "containerStatuses": [container("users", True, {"running": {"startedAt": "2026-12-03T00:00:00Z"}})],
    },
)
STARTING = pod(
    "users-4",
    {
        "phase": "Pending",
        "containerStatuses": [container("users", False, {"waiting": {"reason": "ContainerCreating"}})],
    },
)
DONE = pod("job-1", {"phase": "Succeeded"})
LEAVING = pod("users-5", CRASHING["status"], deleting=True)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (CRASHING, "container users: CrashLoopBackOff (last exit 1, Error)"),
        (NO_IMAGE, 'container auth: ErrImageNeverPull: Container image "platform/auth:0.1.0-abc" is not'),
        (UNSCHEDULED, "not scheduled: Unschedulable: 0/1 nodes are available: 1 Insufficient memory."),
        (NOT_READY, "container users: running, not Ready (readiness probe failing)"),
        (MIGRATION_FAILED, "container migrate: exited 2 (Error)"),
        (READY, None),
        (STARTING, None),
        (DONE, None),
        (LEAVING, None),
    ],
    ids=lambda v: v["metadata"]["name"] if isinstance(v, dict) else None,
)
def test_pod_problem_names_the_reason(raw: dict[str, Any], expected: str | None) -> None:
    found = podwatch.pod_problem(models("V1PodList", [raw]).items[0])
    if expected is None:
        assert found is None
    else:
        assert found is not None and found.startswith(expected)


def event(name: str, kind: str, reason: str, message: str, when: str) -> dict[str, Any]:
    return {
        "metadata": {"name": f"{name}.1", "namespace": "apps"},
        "involvedObject": {"kind": kind, "name": name, "namespace": "apps"},
        "reason": reason,
        "message": message,
        "type": "Warning",
        "lastTimestamp": when,
    }


class Core:
    """The two CoreV1Api calls PodWatch makes, answering from lists the test sets."""

    def __init__(self) -> None:
        self.pods: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.selectors: list[str] = []

    def list_namespaced_pod(self, namespace: str) -> Any:
        return models("V1PodList", [p for p in self.pods if p["metadata"]["namespace"] == namespace])

    def list_namespaced_event(self, namespace: str, field_selector: str) -> Any:
        self.selectors.append(field_selector)
        return models("CoreV1EventList", self.events)


QUOTA = event(
    "users-7f9",
    "ReplicaSet",
    "FailedCreate",
    'pods "users-7f9-x" is forbidden: exceeded quota: apps, requested: limits.cpu=500m',
    "2999-01-01T00:00:00Z",
)
OLD = event("auth-1", "Pod", "Unhealthy", "Readiness probe failed: 503", "2000-01-01T00:00:00Z")


def test_watch_keeps_the_last_problem_of_a_pod_that_is_gone() -> None:
    """atomic deletes the failed release's pods; the reason seen before stays, a recovered pod drops out."""
    core = Core()
    core.pods = [CRASHING, NOT_READY]
    watch = podwatch.PodWatch(core, ["apps", "apps"], interval=60)
    watch.sample()
    core.pods = [pod("users-2", READY["status"])]  # users-1 deleted by the rollback, users-2 recovered
    watch.sample()
    assert watch.findings() == ["pod apps/users-1: container users: CrashLoopBackOff (last exit 1, Error)"]


def test_watch_reports_warning_events_since_it_started() -> None:
    core = Core()
    core.events = [QUOTA, OLD]
    watch = podwatch.PodWatch(core, ["apps"], interval=60)
    watch.sample()
    assert core.selectors == ["type=Warning"]
    assert watch.findings() == [
        "replicaset apps/users-7f9: FailedCreate: "
        'pods "users-7f9-x" is forbidden: exceeded quota: apps, requested: limits.cpu=500m'
    ]


def test_watch_caps_its_findings() -> None:
    core = Core()
    core.pods = [pod(f"users-{n}", CRASHING["status"]) for n in range(12)]
    watch = podwatch.PodWatch(core, ["apps"], interval=60)
    watch.sample()
    assert len(watch.findings()) == podwatch.MAX_FINDINGS + 1
    assert watch.findings()[-1] == "... and 4 more"


def test_watch_survives_api_errors() -> None:
    class Broken(Core):
        def list_namespaced_pod(self, namespace: str) -> Any:
            raise OSError("connection refused")

    watch = podwatch.PodWatch(Broken(), ["apps"], interval=60)
    watch.sample()
    assert watch.findings() == []


@pytest.mark.parametrize("error", [KubernetesError, TerraformError], ids=lambda e: e.__name__)
def test_failed_release_step_names_what_the_pods_showed(
    error: type[Exception], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: `helm upgrade --install users (apps) failed: context deadline exceeded` and nothing else."""
    from platformctl.adapters import kube
    from platformctl.app import deploy
    from platformctl.config.release import Release
    from platformctl.config.site import Site
    from platformctl.context import Context

    core = Core()
    core.pods = [CRASHING]
    monkeypatch.setattr(kube, "api_client", lambda env, path=None: object())
    monkeypatch.setattr(podwatch, "core_api", lambda api: core)
    run = deploy.Deployment(Context(env="dev"), Site())
    run.__dict__["releases"] = [
        Release(name="users", namespace="apps", chart_path="charts/users", values_files=())
    ]

    def step() -> None:
        raise error("helm upgrade --install users (apps) failed: context deadline exceeded")

    with pytest.raises(error) as caught:
        run.watch_releases(step)()
    assert str(caught.value).splitlines() == [
        "helm upgrade --install users (apps) failed: context deadline exceeded",
        "  what the pods showed while it waited:",
        "  pod apps/users-1: container users: CrashLoopBackOff (last exit 1, Error)",
    ]
    assert type(caught.value) is error  # the exit code stays the step's own

"""Why a release did not become ready: what its namespaces' pods and events said while Helm waited.

Helm's own error after a failed wait is "context deadline exceeded", and with `atomic` the failed
release's pods are gone by the time anyone looks. `PodWatch` samples the namespaces of the releases
being installed every few seconds and keeps, per pod, the last reason it was not Ready
(CrashLoopBackOff and the exit code, ErrImageNeverPull, Unschedulable, a failing readiness probe) and
per object the last Warning event (a quota refusing a ReplicaSet's pod, a mount that failed). A failed
release step then names those reasons. Only status fields and event messages are read: never logs,
never Secrets.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

MAX_FINDINGS = 8
STARTING = (None, "ContainerCreating", "PodInitializing")  # waiting reasons that are no problem


def _container_problem(status: Any) -> str | None:
    state = status.state
    if state is not None and state.waiting is not None and state.waiting.reason not in STARTING:
        text = f"container {status.name}: {state.waiting.reason}"
        last = status.last_state.terminated if status.last_state is not None else None
        if last is not None:
            text += f" (last exit {last.exit_code}{', ' + last.reason if last.reason else ''})"
        if state.waiting.message and state.waiting.reason != "CrashLoopBackOff":
            text += f": {state.waiting.message}"
        return text
    if state is not None and state.terminated is not None and state.terminated.exit_code:
        return f"container {status.name}: exited {state.terminated.exit_code} ({state.terminated.reason})"
    if state is not None and state.running is not None and not status.ready:
        return f"container {status.name}: running, not Ready (readiness probe failing)"
    return None


def pod_problem(pod: Any) -> str | None:
    """One line on why a pod is not Ready, from its status alone; None when it is Ready or Succeeded."""
    status = pod.status
    if status is None or status.phase == "Succeeded" or pod.metadata.deletion_timestamp is not None:
        return None
    for condition in status.conditions or []:
        if condition.type == "PodScheduled" and condition.status == "False":
            return f"not scheduled: {condition.reason}: {condition.message}"
    for container in [*(status.init_container_statuses or []), *(status.container_statuses or [])]:
        problem = _container_problem(container)
        if problem:
            return problem
    if status.phase == "Failed":
        return f"failed: {status.reason or 'unknown reason'}"
    return None


def _when(event: Any) -> datetime:
    stamp = event.last_timestamp or event.event_time or event.metadata.creation_timestamp
    return stamp if isinstance(stamp, datetime) else datetime.min.replace(tzinfo=UTC)


class PodWatch:
    """Samples pods and Warning events of some namespaces in a thread while a release step runs."""

    def __init__(self, core: Any, namespaces: Iterable[str], interval: float = 3.0) -> None:
        self.core = core
        self.namespaces = sorted(set(namespaces))
        self.interval = interval
        self.since = datetime.now(UTC)
        self.pods: dict[str, str] = {}
        self.events: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="podwatch", daemon=True)

    def __enter__(self) -> PodWatch:
        self.since = datetime.now(UTC)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if exc is not None:
            self.sample()  # the latest state, for the error

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        """One look at every namespace; API errors are ignored (the watch only ever adds detail)."""
        for namespace in self.namespaces:
            try:
                pods = self.core.list_namespaced_pod(namespace).items
                events = self.core.list_namespaced_event(namespace, field_selector="type=Warning").items
            except Exception:  # noqa: S112 (diagnostics must never fail the step they explain)
                continue
            for pod in pods:  # a pod keeps its last problem when it is gone (atomic removes them)
                key, problem = f"pod {namespace}/{pod.metadata.name}", pod_problem(pod)
                if problem:
                    self.pods[key] = problem
                else:
                    self.pods.pop(key, None)
            for event in events:
                if _when(event) >= self.since:
                    involved = event.involved_object
                    key = f"{involved.kind.lower()} {namespace}/{involved.name}"
                    self.events[key] = f"{event.reason}: {(event.message or '').strip()[:200]}"

    def findings(self) -> list[str]:
        """`<object>: <reason>` lines, pods first, at most MAX_FINDINGS."""
        lines = [f"{name}: {text}" for name, text in sorted(self.pods.items())]
        lines += [f"{name}: {text}" for name, text in sorted(self.events.items()) if name not in self.pods]
        if len(lines) > MAX_FINDINGS:
            lines = [*lines[:MAX_FINDINGS], f"... and {len(lines) - MAX_FINDINGS} more"]
        return lines


def core_api(api_client: Any) -> Any:
    from kubernetes import client  # slow import, only when a release step runs

    return client.CoreV1Api(api_client)

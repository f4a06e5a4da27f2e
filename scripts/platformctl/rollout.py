"""Rolling the consumers of a rotated Secret: restart their Deployments and wait for the rollout.

Deployments only: the data stores (StatefulSets) get a rotated credential in place (ALTER ROLE, ...)
and must not restart for it. maxUnavailable 0 in the charts keeps every request served meanwhile.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import urllib3

from platformctl.errors import KubernetesError

RESTARTED_AT = "platformctl.io/restartedAt"
INSTANCE = "app.kubernetes.io/instance"


class Roller:
    def __init__(self, client: Any, timeout: float = 300, poll: float = 1.0) -> None:
        from kubernetes import client as k8s

        self.apps = k8s.AppsV1Api(client)
        self._api_exception = k8s.ApiException
        self.timeout, self.poll = timeout, poll

    def _call(self, what: str, call: Any) -> Any:
        try:
            return json.loads(call(_preload_content=False).data)
        except self._api_exception as exc:
            raise KubernetesError(f"{what} failed: HTTP {exc.status} {exc.reason}") from None
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise KubernetesError(f"{what}: Kubernetes API unreachable ({type(exc).__name__})") from None

    def deployments(self, namespace: str, release: str) -> list[str]:
        found = self._call(
            f"listing Deployments of {release}",
            lambda **kw: self.apps.list_namespaced_deployment(
                namespace, label_selector=f"{INSTANCE}={release}", **kw
            ),
        )
        return sorted(item["metadata"]["name"] for item in found.get("items", []))

    def restart(self, namespace: str, name: str) -> int:
        """Like `kubectl rollout restart`; returns the generation to wait for."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        patched = self._call(
            f"restarting Deployment {namespace}/{name}",
            lambda **kw: self.apps.patch_namespaced_deployment(name, namespace, body, **kw),
        )
        return int(patched["metadata"].get("generation", 0))

    def done(self, namespace: str, name: str, generation: int) -> bool:
        dep = self._call(
            f"reading Deployment {namespace}/{name}",
            lambda **kw: self.apps.read_namespaced_deployment_status(name, namespace, **kw),
        )
        status, wanted = dep.get("status", {}), dep.get("spec", {}).get("replicas", 1)
        return (
            status.get("observedGeneration", 0) >= generation
            and status.get("updatedReplicas", 0) == wanted
            and status.get("availableReplicas", 0) == wanted
            and not status.get("unavailableReplicas")
        )

    def roll(self, namespace: str, releases: list[str]) -> list[str]:
        """Restart every Deployment of `releases` in `namespace`, then wait until all are rolled out."""
        waiting = {
            f"{namespace}/{name}": (name, self.restart(namespace, name))
            for release in releases
            for name in self.deployments(namespace, release)
        }
        deadline = time.monotonic() + self.timeout
        pending = dict(waiting)
        while pending:
            pending = {
                key: (name, gen)
                for key, (name, gen) in pending.items()
                if not self.done(namespace, name, gen)
            }
            if pending and time.monotonic() > deadline:
                raise KubernetesError(
                    f"rollout of {', '.join(sorted(pending))} not finished after "
                    f"{self.timeout:.0f}s; check `kubectl rollout status`"
                )
            if pending:
                time.sleep(self.poll)
        return sorted(waiting)

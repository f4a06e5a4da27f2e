"""FakeKubeAPI: a tiny HTTP stand-in for the Kubernetes API server (Secrets only).

It stands in for the Kubernetes API, which cannot run in `make test`; the same code paths are exercised
against a real cluster in the end-to-end issue. The real kubernetes Python client talks to it over HTTP,
so request building, server-side apply parameters and error handling are all real.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

_SECRET = re.compile(r"^/api/v1/namespaces/([^/]+)/secrets/([^/]+)$")
_DEPLOYMENTS = re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/deployments(?:/([^/]+))?(/status)?$")


def deployment(namespace: str, name: str, release: str, replicas: int = 2) -> dict[str, Any]:
    """A Deployment as the API returns it, fully rolled out."""
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "generation": 1,
            "labels": {"app.kubernetes.io/instance": release},
        },
        "spec": {"replicas": replicas, "template": {"metadata": {"annotations": {}}}},
        "status": {
            "observedGeneration": 1,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": replicas,
        },
    }


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


@dataclass
class FakeKubeAPI:
    """Secrets stored by (namespace, name); every apply request is recorded for assertions."""

    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    applies: list[dict[str, Any]] = field(default_factory=list)
    fail_apply: bool = False
    deployments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    restarts: list[tuple[str, str]] = field(default_factory=list)
    stuck_rollouts: bool = False  # True: restarted Deployments never become ready (rollout timeout)
    # TokenReview: token -> (namespace, service account); anything else is "not authenticated".
    service_accounts: dict[str, tuple[str, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(api: FakeKubeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            return

        def _send(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _not_found(self) -> None:
            self._send(
                404,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "NotFound",
                    "code": 404,
                    "message": "not found",
                },
            )

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/debug/applies":
                self._send(200, {"count": len(api.applies)})
                return
            if url.path.rstrip("/") == "/version":  # the client asks for /version/
                self._send(
                    200,
                    {
                        "major": "1",
                        "minor": "20",
                        "gitVersion": "v1.20.2-fake",
                        "gitCommit": "fake",
                        "gitTreeState": "clean",
                        "buildDate": "2021-01-13T13:20:00Z",
                        "goVersion": "go1.15.5",
                        "compiler": "gc",
                        "platform": "linux/amd64",
                    },
                )
                return
            deployments = _DEPLOYMENTS.match(url.path)
            if deployments:
                self._get_deployments(deployments.groups(), parse_qs(url.query))
                return
            match = _SECRET.match(url.path)
            with api.lock:
                found = api.secrets.get(match.groups()) if match else None
            self._send(200, found) if found else self._not_found()

        def _get_deployments(self, groups: tuple[str, ...], query: dict[str, list[str]]) -> None:
            namespace, name, _ = groups
            with api.lock:
                if name:
                    found = api.deployments.get((namespace, name))
                    self._send(200, found) if found else self._not_found()
                    return
                key, _, value = query.get("labelSelector", ["="])[0].partition("=")
                items = [
                    d
                    for (ns, _), d in sorted(api.deployments.items())
                    if ns == namespace and d["metadata"]["labels"].get(key) == value
                ]
            self._send(200, {"kind": "DeploymentList", "apiVersion": "apps/v1", "items": items})

        def _patch_deployment(self, namespace: str, name: str, body: dict[str, Any]) -> None:
            with api.lock:
                found = api.deployments.get((namespace, name))
                if not found:
                    self._not_found()
                    return
                _merge(found, body)
                found["metadata"]["generation"] += 1
                api.restarts.append((namespace, name))
                if not api.stuck_rollouts:
                    found["status"]["observedGeneration"] = found["metadata"]["generation"]
            self._send(200, found)

        def do_POST(self) -> None:
            """TokenReview, as Vault's Kubernetes auth method asks it."""
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if urlsplit(self.path).path != "/apis/authentication.k8s.io/v1/tokenreviews":
                self._not_found()
                return
            account = api.service_accounts.get(body.get("spec", {}).get("token", ""))
            status: dict[str, Any] = {"authenticated": False}
            if account:
                status = {
                    "authenticated": True,
                    "audiences": body["spec"].get("audiences") or [],
                    "user": {
                        "username": f"system:serviceaccount:{account[0]}:{account[1]}",
                        "uid": f"uid-{account[1]}",
                        "groups": ["system:serviceaccounts"],
                    },
                }
            self._send(
                201,
                {
                    "kind": "TokenReview",
                    "apiVersion": "authentication.k8s.io/v1",
                    "spec": body.get("spec", {}),
                    "status": status,
                },
            )

        def do_PATCH(self) -> None:
            url = urlsplit(self.path)
            match = _SECRET.match(url.path)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            deployments = _DEPLOYMENTS.match(url.path)
            if deployments and deployments.group(2):
                self._patch_deployment(deployments.group(1), deployments.group(2), body)
                return
            if not match or api.fail_apply:
                self._send(500, {"kind": "Status", "status": "Failure", "code": 500, "message": "boom"})
                return
            with api.lock:
                api.applies.append(
                    {"query": parse_qs(url.query), "body": body, "content_type": self.headers["Content-Type"]}
                )
                api.secrets[match.groups()] = body
            self._send(200, body)

    return Handler


@contextmanager
def running_fake(
    kubeconfig_dir: Path, context: str = "kind-platform-dev"
) -> Iterator[tuple[FakeKubeAPI, Path]]:
    """Serve a FakeKubeAPI on a free loopback port; yield it and a kubeconfig whose context points at it."""
    api = FakeKubeAPI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": context,
        "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
        "users": [{"name": "fake", "user": {"token": "fake-token"}}],
        "contexts": [{"name": context, "context": {"cluster": "fake", "user": "fake"}}],
    }
    path = kubeconfig_dir / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    try:
        yield api, path
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    """Serve in a process of its own (benchmarks): `python -m tests.integration.fake_kube DIR`.

    Prints the kubeconfig path, then serves until stdin closes; GET /debug/applies returns the count.
    """
    import sys

    with running_fake(Path(sys.argv[1])) as (_, kubeconfig):
        print(kubeconfig, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()

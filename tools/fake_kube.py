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
_NAMESPACE = re.compile(r"^/api/v1/namespaces/([^/]+)$")


@dataclass
class FakeKubeAPI:
    """Secrets stored by (namespace, name); every apply request is recorded for assertions."""

    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    applies: list[dict[str, Any]] = field(default_factory=list)
    fail_apply: bool = False
    # TokenReview: token -> (namespace, service account); anything else is "not authenticated".
    service_accounts: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Namespaces by name; with strict_namespaces a Secret in a missing namespace is refused (HTTP 404),
    # as the real API server does.
    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    strict_namespaces: bool = False
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
            namespace = _NAMESPACE.match(url.path)
            if namespace:
                with api.lock:
                    found_ns = api.namespaces.get(namespace.group(1))
                self._send(200, found_ns) if found_ns else self._not_found()
                return
            match = _SECRET.match(url.path)
            with api.lock:
                found = api.secrets.get(match.groups()) if match else None
            self._send(200, found) if found else self._not_found()

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

        def do_DELETE(self) -> None:
            namespace = _NAMESPACE.match(urlsplit(self.path).path)
            with api.lock:
                found = api.namespaces.pop(namespace.group(1), None) if namespace else None
                if found:
                    for key in [k for k in api.secrets if k[0] == found["metadata"]["name"]]:
                        del api.secrets[key]
            self._send(200, found) if found else self._not_found()

        def _apply_namespace(self, name: str, body: dict[str, Any]) -> None:
            with api.lock:
                stored = api.namespaces.setdefault(
                    name, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {}}}
                )
                stored["metadata"]["labels"].update(body["metadata"].get("labels") or {})
                api.applies.append({"namespace": name, "content_type": self.headers["Content-Type"]})
            self._send(200, stored)

        def do_PATCH(self) -> None:
            url = urlsplit(self.path)
            match = _SECRET.match(url.path)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            namespace = _NAMESPACE.match(url.path)
            if namespace:
                self._apply_namespace(namespace.group(1), body)
                return
            if match and api.strict_namespaces and match.group(1) not in api.namespaces:
                self._not_found()
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
    """Serve in a process of its own (benchmarks): `python -m tools.fake_kube DIR`.

    Prints the kubeconfig path, then serves until stdin closes; GET /debug/applies returns the count.
    """
    import sys

    with running_fake(Path(sys.argv[1])) as (_, kubeconfig):
        print(kubeconfig, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()

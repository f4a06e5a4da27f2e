"""Kubernetes Secrets through the kubernetes client: server-side apply as field manager `platformctl`."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from typing import Any

import urllib3

from platformctl.config import environments
from platformctl.config.paths import state_dir
from platformctl.errors import KubernetesError

FIELD_MANAGER = "platformctl"
MANAGED_BY = {"app.kubernetes.io/managed-by": "platformctl"}
VERSION_ANNOTATION = "platformctl.io/vault-version"
PATH_ANNOTATION = "platformctl.io/vault-path"


def expected_context(env: str) -> str:
    """The kube context an environment deploys to: PLATFORMCTL_KUBE_CONTEXT when set (e.g. a test cluster),
    else the site profile's existing cluster, else the env's `kube_context` in environments.yaml."""
    from platformctl.config import site

    override = os.environ.get("PLATFORMCTL_KUBE_CONTEXT")
    if override:
        return override
    profile = site.load()
    if profile.cluster:
        return profile.cluster.kube_context
    return environments.get(env).kube_context


def kubeconfig(env: str) -> str | None:
    """The env's kubeconfig written by the cluster stack, else the user's ($KUBECONFIG or ~/.kube/config).

    With a site profile that names an existing cluster, always the user's: that cluster is not ours.
    """
    from platformctl.config import site

    written = state_dir() / env / "kubeconfig"
    if site.load().cluster or not written.is_file():
        return os.environ.get("KUBECONFIG")
    return str(written)


def api_client(env: str, config_file: str | None = None) -> Any:
    """A client for the env's context; refuses a missing context or one that points at another cluster."""
    from kubernetes import config  # slow import, only the verbs that talk to Kubernetes need it

    wanted = expected_context(env)
    path = config_file or kubeconfig(env)
    try:
        contexts, current = config.list_kube_config_contexts(config_file=path)
    except (config.ConfigException, OSError, TypeError):
        raise KubernetesError(
            f"no kube context found (kubeconfig {path or '~/.kube/config'}); "
            f"run `make apply ENV={env}` or set KUBECONFIG"
        ) from None
    names = {c["name"] for c in contexts}
    if wanted not in names:
        raise KubernetesError(
            f"kube context '{wanted}' for {env} is missing (current: '{current['name']}'); "
            f"create the cluster with `make apply ENV={env}` or fix KUBECONFIG"
        )
    if current["name"] != wanted:
        raise KubernetesError(
            f"current kube context '{current['name']}' is not {env}'s '{wanted}'; "
            f"run `kubectl config use-context {wanted}`"
        )
    return config.new_client_from_config(config_file=path, context=wanted)


def secret_manifest(
    name: str,
    namespace: str,
    data: dict[str, str],
    annotations: dict[str, str],
    secret_type: str = "Opaque",  # noqa: S107 (a Secret type)
) -> dict[str, Any]:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in sorted(data.items())}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": secret_type,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(MANAGED_BY),
            "annotations": dict(sorted(annotations.items())),
        },
        "data": encoded,
    }


def call(what: str, request: Callable[[], Any], missing_ok: bool = False) -> Any:
    """Run one API request; its failure becomes a one-line KubernetesError (a 404 is None if `missing_ok`)."""
    from kubernetes.client import ApiException

    try:
        return request()
    except ApiException as exc:
        if missing_ok and exc.status == 404:
            return None
        raise KubernetesError(f"{what} failed: HTTP {exc.status} {exc.reason}") from None
    except (OSError, urllib3.exceptions.HTTPError) as exc:
        raise KubernetesError(
            f"Kubernetes API unreachable ({type(exc).__name__}); check the cluster"
        ) from None


class KubeSecrets:
    """Reads and server-side applies Secrets; API errors become KubernetesError without the body."""

    def __init__(self, client: Any) -> None:
        from kubernetes import client as k8s

        self.core = k8s.CoreV1Api(client)

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        # Raw JSON: building the client's model objects costs more than the HTTP call itself.
        response = call(
            f"reading Secret {namespace}/{name}",
            lambda: self.core.read_namespaced_secret(name, namespace, _preload_content=False),
            missing_ok=True,
        )
        if response is None:
            return None
        secret = json.loads(response.data)
        annotations = secret.get("metadata", {}).get("annotations") or {}
        return {"annotations": dict(annotations), "data": dict(secret.get("data") or {})}

    def apply(self, manifest: dict[str, Any]) -> None:
        meta = manifest["metadata"]
        call(
            f"applying Secret {meta['namespace']}/{meta['name']}",
            lambda: self.core.patch_namespaced_secret(
                meta["name"],
                meta["namespace"],
                manifest,
                field_manager=FIELD_MANAGER,
                force=True,
                _content_type="application/apply-patch+yaml",
                _preload_content=False,
            ),
        )


def reachable(client: Any) -> str:
    """The API server's version (for doctor); raises KubernetesError when it does not answer."""
    from kubernetes import client as k8s

    try:
        info = k8s.VersionApi(client).get_code(_request_timeout=3)
    except Exception as exc:  # any transport or API failure means "not reachable" here
        raise KubernetesError(f"Kubernetes API unreachable ({type(exc).__name__})") from None
    return str(info.git_version)


__all__ = ["KubeSecrets", "api_client", "call", "expected_context", "reachable", "secret_manifest"]

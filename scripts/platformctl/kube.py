"""Kubernetes Secrets through the kubernetes client: server-side apply as field manager `platformctl`."""

from __future__ import annotations

import base64
import json
import os
import re
from typing import Any

import urllib3

from platformctl.errors import KubernetesError
from platformctl.paths import repo_root, state_dir

FIELD_MANAGER = "platformctl"
MANAGED_BY = {"app.kubernetes.io/managed-by": "platformctl"}
VERSION_ANNOTATION = "platformctl.io/vault-version"
PATH_ANNOTATION = "platformctl.io/vault-path"


def expected_context(env: str) -> str:
    """The kube context an environment deploys to: PLATFORMCTL_KUBE_CONTEXT when set (e.g. a test cluster),
    else `kube_context` in terraform/envs/<env>/platform.tfvars."""
    override = os.environ.get("PLATFORMCTL_KUBE_CONTEXT")
    if override:
        return override
    tfvars = repo_root() / "terraform" / "envs" / env / "platform.tfvars"
    try:
        match = re.search(r'^\s*kube_context\s*=\s*"([^"]+)"', tfvars.read_text(), re.MULTILINE)
    except OSError:
        match = None
    if not match:
        raise KubernetesError(f'{tfvars} sets no kube_context; add `kube_context = "..."` for {env}')
    return match.group(1)


def kubeconfig(env: str) -> str | None:
    """The env's kubeconfig written by the cluster stack, else the user's ($KUBECONFIG or ~/.kube/config)."""
    written = state_dir() / env / "kubeconfig"
    return str(written) if written.is_file() else os.environ.get("KUBECONFIG")


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


class KubeSecrets:
    """Reads and server-side applies Secrets; API errors become KubernetesError without the body."""

    def __init__(self, client: Any) -> None:
        from kubernetes import client as k8s

        self.core = k8s.CoreV1Api(client)
        self._api_exception = k8s.ApiException

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            # Raw JSON: building the client's model objects costs more than the HTTP call itself.
            response = self.core.read_namespaced_secret(name, namespace, _preload_content=False)
            secret = json.loads(response.data)
        except self._api_exception as exc:
            if exc.status == 404:
                return None
            raise KubernetesError(
                f"reading Secret {namespace}/{name} failed: HTTP {exc.status} {exc.reason}"
            ) from None
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise KubernetesError(
                f"Kubernetes API unreachable ({type(exc).__name__}); check the cluster"
            ) from None
        annotations = secret.get("metadata", {}).get("annotations") or {}
        return {"annotations": dict(annotations), "data": dict(secret.get("data") or {})}

    def apply(self, manifest: dict[str, Any]) -> None:
        meta = manifest["metadata"]
        try:
            self.core.patch_namespaced_secret(
                meta["name"],
                meta["namespace"],
                manifest,
                field_manager=FIELD_MANAGER,
                force=True,
                _content_type="application/apply-patch+yaml",
                _preload_content=False,
            )
        except self._api_exception as exc:
            raise KubernetesError(
                f"applying Secret {meta['namespace']}/{meta['name']} failed: HTTP {exc.status} {exc.reason}"
            ) from None
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise KubernetesError(
                f"Kubernetes API unreachable ({type(exc).__name__}); check the cluster"
            ) from None


def reachable(client: Any) -> str:
    """The API server's version (for doctor); raises KubernetesError when it does not answer."""
    from kubernetes import client as k8s

    try:
        info = k8s.VersionApi(client).get_code(_request_timeout=3)
    except Exception as exc:  # any transport or API failure means "not reachable" here
        raise KubernetesError(f"Kubernetes API unreachable ({type(exc).__name__})") from None
    return str(info.git_version)


__all__ = ["KubeSecrets", "api_client", "expected_context", "reachable", "secret_manifest"]

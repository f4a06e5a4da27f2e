"""The site's S3 store on the harness: SeaweedFS in namespace e2e-s3, standing in for the skipped minio.

It exists before `make apply` (as a company's S3 store would), and accepts the notifications service's own
key pair, read from the dev Vault (`platformctl vault dev` seeded it) and never printed.
"""

from __future__ import annotations

import json
from pathlib import Path

from platformctl import secret_map, vault
from platformctl.kube import KubeSecrets, secret_manifest

from tests.e2e.cluster import kubectl

MANIFEST = Path(__file__).resolve().parent / "manifests" / "seaweedfs.yaml"
NAMESPACE = "e2e-s3"
CONFIG_SECRET = "e2e-seaweedfs-s3"


def namespace_manifest() -> str:
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "kubernetes.io/metadata.name": NAMESPACE,
        "app.kubernetes.io/part-of": "e2e",
    }
    return json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": labels}}
    )


def config_secret(store: KubeSecrets) -> None:
    """s3.json for SeaweedFS with the notifications service's key pair from the dev Vault."""
    smap = secret_map.load()
    entry = vault.connect("dev", smap.mount).read(smap.secrets["notifications-s3"].path)
    identity = {
        "name": "notifications",
        "credentials": [{"accessKey": entry.data["access-key"], "secretKey": entry.data["secret-key"]}],
        # The service creates its bucket at start (NOTIFICATIONS_S3_CREATE_BUCKET defaults to true).
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    body = json.dumps({"identities": [identity]})
    store.apply(secret_manifest(CONFIG_SECRET, NAMESPACE, {"s3.json": body}, {}))


def deploy(kubeconfig: Path, store: KubeSecrets, weed_version: str, timeout: int = 180) -> None:
    kubectl(kubeconfig, "apply", "-f", "-", stdin=namespace_manifest())
    config_secret(store)
    manifest = MANIFEST.read_text().replace("@WEED_VERSION@", weed_version)
    kubectl(kubeconfig, "apply", "-f", "-", stdin=manifest)
    kubectl(kubeconfig, "-n", NAMESPACE, "rollout", "status", "deployment/seaweedfs", f"--timeout={timeout}s")


def remove(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "delete", "namespace", "--ignore-not-found", "--wait", "--timeout=300s", NAMESPACE)

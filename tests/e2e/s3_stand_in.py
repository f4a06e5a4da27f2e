"""The SeaweedFS S3 stand-in for the skipped minio release: its identity Secret and its workload."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from platformctl.kube import KubeSecrets, secret_manifest

from tests.e2e.cluster import E2EError, kubectl

MANIFEST = Path(__file__).resolve().parent / "manifests" / "seaweedfs.yaml"
CONSUMER_SECRET = ("apps", "notifications-s3")
CONFIG_SECRET = ("data", "e2e-seaweedfs-s3")


def config_secret(store: KubeSecrets) -> None:
    """s3.json for SeaweedFS with the notifications service's own key pair (read from its synced Secret)."""
    namespace, name = CONSUMER_SECRET
    synced = store.get(namespace, name)
    if synced is None:
        raise E2EError(f"Secret {namespace}/{name} is missing; `secrets sync` must run first")
    keys = {k: base64.b64decode(v).decode() for k, v in synced["data"].items()}
    identity = {
        "name": "notifications",
        "credentials": [{"accessKey": keys["access-key"], "secretKey": keys["secret-key"]}],
        # The service creates its bucket at start (NOTIFICATIONS_S3_CREATE_BUCKET defaults to true).
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    body = json.dumps({"identities": [identity]})
    store.apply(secret_manifest(CONFIG_SECRET[1], CONFIG_SECRET[0], {"s3.json": body}, {}))


def deploy(kubeconfig: Path, weed_version: str, timeout: int = 180) -> None:
    manifest = MANIFEST.read_text().replace("@WEED_VERSION@", weed_version)
    kubectl(kubeconfig, "apply", "-f", "-", stdin=manifest)
    kubectl(kubeconfig, "-n", "data", "rollout", "status", "deployment/seaweedfs", f"--timeout={timeout}s")

"""The site's S3 store on the harness: SeaweedFS in namespace e2e-s3, standing in for the skipped minio.

It exists before `make apply` (as a company's S3 store would), and accepts the consumers' own key pairs,
read from the dev Vault (`platformctl vault dev` seeded them) and never printed: the notifications
service's, and the backup job's, which may use the `backups` bucket only. The store's admin is the minio
root key of the same Vault; with it the product's own `platformctl storage ensure` creates the buckets
(versioned) before apply, as an operator would on a company's store.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from platformctl.adapters import storage, vault
from platformctl.adapters.kube import KubeSecrets, secret_manifest
from platformctl.config import secret_map
from platformctl.config.paths import repo_root

from tools.e2e.cluster import E2EError, kubectl
from tools.e2e.portforward import forward

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


def identities(smap: secret_map.SecretMap, client: vault.Vault) -> list[dict[str, object]]:
    """SeaweedFS identities: each consumer with its own key from Vault, and the store's admin."""
    notifications = client.read(smap.secrets["notifications-s3"].path).data
    backups = client.read(smap.secrets["postgresql-backup-s3"].path).data
    admin = client.read(smap.secrets["minio-root"].path).data
    bucket = next(name for name, (consumer, _) in storage.BUCKETS.items() if consumer == "backups")

    def keys(access: str, secret: str) -> list[dict[str, str]]:
        return [{"accessKey": access, "secretKey": secret}]

    return [
        {
            "name": "notifications",
            "credentials": keys(notifications["access-key"], notifications["secret-key"]),
            # The service creates its bucket at start (NOTIFICATIONS_S3_CREATE_BUCKET defaults to true).
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        },
        {
            # The backup job: its own bucket only (read, write, list, delete for the retention).
            "name": "backups",
            "credentials": keys(backups["access-key"], backups["secret-key"]),
            "actions": [f"Read:{bucket}", f"Write:{bucket}", f"List:{bucket}"],
        },
        {
            "name": "admin",
            "credentials": keys(admin["root-user"], admin["root-password"]),
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        },
    ]


def config_secret(store: KubeSecrets) -> None:
    """s3.json for SeaweedFS with the consumers' and the admin's key pairs from the dev Vault."""
    smap = secret_map.load()
    body = json.dumps({"identities": identities(smap, vault.connect("dev", smap.mount))})
    store.apply(secret_manifest(CONFIG_SECRET, NAMESPACE, {"s3.json": body}, {}))


def ensure_buckets(kubeconfig: Path) -> str:
    """`platformctl storage ensure` through a port-forward: the product's command creates the buckets (the
    admin key comes from the dev Vault, as for any store; consumer users are the static identities above)."""
    platformctl = repo_root() / ".venv" / "bin" / "platformctl"
    with forward(kubeconfig, NAMESPACE, "seaweedfs", 9000) as endpoint:
        result = subprocess.run(
            [
                str(platformctl),
                "--env",
                "dev",
                "storage",
                "ensure",
                "--endpoint",
                endpoint,
                "--admin-api",
                "none",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "KUBECONFIG": str(kubeconfig)},
            check=False,
        )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise E2EError(f"platformctl storage ensure on the site's S3 store failed: {last}")
    return result.stdout


def deploy(kubeconfig: Path, store: KubeSecrets, weed_version: str, timeout: int = 180) -> None:
    kubectl(kubeconfig, "apply", "-f", "-", stdin=namespace_manifest())
    config_secret(store)
    manifest = MANIFEST.read_text().replace("@WEED_VERSION@", weed_version)
    kubectl(kubeconfig, "apply", "-f", "-", stdin=manifest)
    kubectl(kubeconfig, "-n", NAMESPACE, "rollout", "status", "deployment/seaweedfs", f"--timeout={timeout}s")
    print(ensure_buckets(kubeconfig), end="", flush=True)


def remove(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "delete", "namespace", "--ignore-not-found", "--wait", "--timeout=300s", NAMESPACE)

"""A bounded login load loop that runs inside the cluster, so every request takes the Service path.

A port-forward pins one pod and would fail by design when that pod goes away; a Job in `apps` calling
`auth.apps.svc.cluster.local` goes through kube-proxy like real traffic. The loop stops by itself after
`seconds`, opens a fresh connection per request (no keep-alive to a terminating pod) and prints one JSON
summary line. The credentials of its test user come from a Secret mounted as a file, never from argv.
"""

from __future__ import annotations

import json
import time
from typing import Any

from kubernetes import client as k8s

from tools.e2e.cluster import E2EError

NAMESPACE = "apps"
SECRET = "e2e-load-login"
LOGIN_URL = "http://auth.apps.svc.cluster.local:8080/auth-ms/auth/login"

# Runs with the auth image's Python (stdlib only).
LOOP = """
import json, sys, time, urllib.error, urllib.request
url, seconds = sys.argv[1], float(sys.argv[2])
body = open("/var/run/secrets/e2e-load/login.json", "rb").read()
ok, failed, errors = 0, 0, {}
print(json.dumps({"event": "started"}), flush=True)
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            ok += 1
    except (urllib.error.URLError, OSError) as exc:
        failed += 1
        kind = f"{type(exc).__name__} {getattr(exc, 'code', '')}".strip()
        errors[kind] = errors.get(kind, 0) + 1
    time.sleep(0.05)
print(json.dumps({"event": "done", "ok": ok, "failed": failed, "errors": errors}), flush=True)
"""


def login_secret(core: Any, email: str, password: str) -> None:
    body = k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name=SECRET, labels={"app.kubernetes.io/part-of": "e2e"}),
        string_data={"login.json": json.dumps({"email": email, "password": password})},
    )
    core.delete_collection_namespaced_secret(NAMESPACE, field_selector=f"metadata.name={SECRET}")
    core.create_namespaced_secret(NAMESPACE, body)


def _job(name: str, image: str, seconds: int) -> k8s.V1Job:
    security = k8s.V1SecurityContext(
        run_as_non_root=True,
        run_as_user=1000,
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        capabilities=k8s.V1Capabilities(drop=["ALL"]),
        seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
    )
    resources = k8s.V1ResourceRequirements(
        requests={"cpu": "50m", "memory": "64Mi"}, limits={"cpu": "200m", "memory": "128Mi"}
    )
    mount = k8s.V1VolumeMount(name="login", mount_path="/var/run/secrets/e2e-load", read_only=True)
    container = k8s.V1Container(
        name="load",
        image=image,
        image_pull_policy="Never",
        security_context=security,
        command=["python", "-c", LOOP, LOGIN_URL, str(seconds)],
        resources=resources,
        volume_mounts=[mount],
    )
    pod = k8s.V1PodSpec(
        restart_policy="Never",
        automount_service_account_token=False,
        containers=[container],
        volumes=[
            k8s.V1Volume(
                name="login", secret=k8s.V1SecretVolumeSource(secret_name=SECRET, default_mode=0o440)
            )
        ],
    )
    return k8s.V1Job(
        metadata=k8s.V1ObjectMeta(name=name, labels={"app.kubernetes.io/part-of": "e2e"}),
        spec=k8s.V1JobSpec(
            backoff_limit=0, active_deadline_seconds=seconds + 120, template=k8s.V1PodTemplateSpec(spec=pod)
        ),
    )


def start(batch: Any, core: Any, name: str, image: str, seconds: int) -> None:
    """Create the Job and return once its loop has printed `started`."""
    batch.create_namespaced_job(NAMESPACE, _job(name, image, seconds))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(e.get("event") == "started" for e in _events(core, name)):
            return
        time.sleep(1)
    raise E2EError(f"load Job {name} did not start within 60s")


def result(core: Any, name: str, seconds: int) -> dict[str, Any]:
    """Wait for the loop's summary line (it stops by itself) and return it."""
    deadline = time.monotonic() + seconds + 120
    while time.monotonic() < deadline:
        done = [e for e in _events(core, name) if e.get("event") == "done"]
        if done:
            return done[0]
        time.sleep(2)
    raise E2EError(f"load Job {name} printed no summary")


def delete(batch: Any, name: str) -> None:
    batch.delete_namespaced_job(name, NAMESPACE, propagation_policy="Background")


def _events(core: Any, job: str) -> list[dict[str, Any]]:
    pods = core.list_namespaced_pod(NAMESPACE, label_selector=f"job-name={job}").items
    if not pods or pods[0].status.phase == "Pending":
        return []
    try:  # raw bytes: the client would otherwise turn a JSON log line into a Python dict's repr
        raw = core.read_namespaced_pod_log(pods[0].metadata.name, NAMESPACE, _preload_content=False)
    except k8s.ApiException:
        return []
    log = raw.data.decode()
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]

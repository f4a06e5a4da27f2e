"""`platformctl backup run|list|restore`: the users database's backups, through Jobs made from the backup
CronJob that charts/postgresql renders (docs/adr/0008-*).

Every action is a Job created from the CronJob's own job template (what `kubectl create job --from=
cronjob/...` does), so it runs the same image, with the same mounted Secrets, labels (NetworkPolicy),
security context and limits as the scheduled backup; only the runner's arguments differ and a manual Job
is never retried. Nothing secret is on the Job: the runner (services/pgbackup/pgbackup.py) reads the
database password, the S3 key and the encryption key from the mounted files. platformctl waits for the
Job, reads the result line the runner prints last, deletes the Job and says what happened.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from platformctl.adapters.kube import call
from platformctl.errors import ConfigError, KubernetesError, UsageError

NAMESPACE = "data"  # the postgresql release's namespace (docs/architecture.md)
CRONJOB = "postgresql-backup"  # charts/postgresql templates/backup-cronjob.yaml: <release>-backup
CONTAINER = "backup"
NAME = re.compile(r"^\d{8}T\d{6}Z-[a-z][a-z0-9-]{0,30}$")
DATABASE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
REFUSED = 3  # the runner's exit code when it refuses to overwrite
# Pod states that never end by themselves: the Job would only time out.
STUCK = {
    "ErrImagePull",
    "ErrImageNeverPull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
}
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    job: str
    exit_code: int
    event: dict[str, Any] | None  # the runner's last JSON line
    seconds: float

    @property
    def result(self) -> dict[str, Any]:
        if self.event is None or self.event.get("event") != "result":
            raise KubernetesError(f"backup Job {self.job} printed no result")
        return self.event


def runner_args(
    action: str,
    name: str | None = None,
    into: str = "running",
    target_db: str | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> list[str]:
    """The runner's arguments for one action; argument combinations are checked here, as one line each."""
    if action != "restore" and (name or into != "running" or target_db or force):
        raise UsageError(
            f"--name, --into, --target-db and --force only go with `backup restore`, not {action}"
        )
    if name is not None and not NAME.match(name):
        raise UsageError(
            f"--name {name!r} is not a backup name like 20250101T021700Z-scheduled (`backup list`)"
        )
    if target_db is not None and (into != "fresh" or not DATABASE.match(target_db)):
        raise UsageError("--target-db takes a lower-case PostgreSQL name and only goes with --into fresh")
    if action == "run":
        return ["backup", "--label", "manual"]
    if action == "list":
        return ["list"]
    args = ["restore", "--into", into]
    args += ["--name", name] if name else []
    args += ["--target-db", target_db] if target_db else []
    args += ["--force"] if force else []
    args += ["--dry-run"] if dry_run else []
    return args


def cronjob(api: Any, namespace: str = NAMESPACE, name: str = CRONJOB) -> dict[str, Any]:
    """The backup CronJob: batch/v1 (Kubernetes 1.21+), else batch/v1beta1 (1.20)."""
    from kubernetes import client as k8s

    objects = k8s.CustomObjectsApi(api)

    def read(version: str) -> Any:
        return objects.get_namespaced_custom_object("batch", version, namespace, "cronjobs", name)

    for version in ("v1", "v1beta1"):
        found = call(f"reading CronJob {namespace}/{name}", functools.partial(read, version), missing_ok=True)
        if found is not None:
            return dict(found)
    raise KubernetesError(
        f"no CronJob {namespace}/{name}: install the postgresql release with backup.enabled (`make apply`)"
    )


def job_manifest(cron: dict[str, Any], action: str, args: list[str], suffix: str = "") -> dict[str, Any]:
    """A Job from the CronJob's template with the runner's `args`, never retried, named after the action."""
    template = copy.deepcopy(cron["spec"]["jobTemplate"])
    spec = template["spec"]
    spec["backoffLimit"] = 0  # a manual backup or a restore is never repeated by itself
    spec.pop("selector", None)
    pod = spec["template"]
    pod.setdefault("metadata", {}).get("labels", {}).pop("controller-uid", None)
    containers = [c for c in pod["spec"]["containers"] if c["name"] == CONTAINER]
    if len(containers) != 1:
        raise ConfigError(f"CronJob {cron['metadata']['name']} has no container named {CONTAINER}")
    containers[0]["args"] = args
    labels = {**(template.get("metadata") or {}).get("labels", {}), "platformctl.io/backup-action": action}
    labels["app.kubernetes.io/managed-by"] = "platformctl"
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    name = f"{cron['metadata']['name']}-{action}-{stamp}{suffix or '-' + secrets.token_hex(2)}"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name[:63].rstrip("-"),
            "namespace": cron["metadata"].get("namespace", NAMESPACE),
            "labels": labels,
            "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
        },
        "spec": spec,
    }


def last_event(log: str) -> dict[str, Any] | None:
    """The runner's last JSON line (`{"event": "result"|"error", ...}`), if it printed one."""
    for line in reversed(log.splitlines()):
        if line.startswith("{"):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("event") in ("result", "error"):
                return event
    return None


def stuck_reason(pods: list[Any]) -> str | None:
    """Why a Job's pod can never start (a missing Secret, an image that cannot be pulled), if it cannot."""
    for pod in pods:
        for status in pod.status.container_statuses or []:
            waiting = status.state.waiting if status.state else None
            if waiting and waiting.reason in STUCK:
                return f"{waiting.reason}: {(waiting.message or '').strip()[:300]}"
    return None


def _exit_code(pods: list[Any]) -> int | None:
    for pod in pods:
        for status in pod.status.container_statuses or []:
            if status.name == CONTAINER and status.state and status.state.terminated:
                return int(status.state.terminated.exit_code)
    return None


def run_job(api: Any, manifest: dict[str, Any], timeout: float, progress: Progress) -> Outcome:
    """Create the Job, wait until its pod ends, read its log; the Job is deleted in every case (a restore
    stopped midway rolls back: the runner restores in one transaction)."""
    from kubernetes import client as k8s

    batch, core = k8s.BatchV1Api(api), k8s.CoreV1Api(api)
    name, namespace = manifest["metadata"]["name"], manifest["metadata"]["namespace"]
    call(f"creating Job {namespace}/{name}", lambda: batch.create_namespaced_job(namespace, manifest))
    progress(f"Job {namespace}/{name} started")
    started = time.monotonic()
    try:
        while True:
            pods = call(
                f"listing the pods of Job {name}",
                lambda: core.list_namespaced_pod(namespace, label_selector=f"job-name={name}").items,
            )
            code = _exit_code(pods)
            if code is not None:
                break
            stuck = stuck_reason(pods)
            if stuck:
                raise KubernetesError(f"backup Job {name} cannot start ({stuck}); run `make apply` first")
            if time.monotonic() - started > timeout:
                raise KubernetesError(
                    f"backup Job {name} did not finish within {timeout:.0f}s; it was stopped"
                )
            time.sleep(1)
        response = call(
            f"reading the log of Job {name}",
            lambda: core.read_namespaced_pod_log(
                pods[0].metadata.name, namespace, container=CONTAINER, _preload_content=False
            ),
        )
        log = response.data.decode(errors="replace")
    finally:
        call(
            f"deleting Job {namespace}/{name}",
            lambda: batch.delete_namespaced_job(name, namespace, propagation_policy="Background"),
            missing_ok=True,
        )
    return Outcome(name, code, last_event(log), round(time.monotonic() - started, 1))


def checked(outcome: Outcome) -> dict[str, Any]:
    """The result of a Job that succeeded; otherwise the runner's one-line reason as our error."""
    if outcome.exit_code == 0:
        return outcome.result
    message = (outcome.event or {}).get("message") or f"exit code {outcome.exit_code}, no message"
    if outcome.exit_code == REFUSED:
        raise UsageError(f"restore refused: {message}")
    raise KubernetesError(f"backup Job {outcome.job} failed: {message}")


# --- what the verb prints ---------------------------------------------------------------------------------


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"


def age(finished: str, now: datetime) -> str:
    seconds = max(0, int((now - datetime.fromisoformat(finished)).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def list_rows(result: dict[str, Any], now: datetime) -> list[list[str]]:
    return [
        [
            b["name"],
            b["finished"][:19].replace("T", " "),
            age(b["finished"], now),
            _size(b["size"]),
            b["key_id"],
        ]
        for b in result["backups"]
    ]


LIST_HEADERS = ["backup", "finished (UTC)", "age", "size", "key id"]


def list_summary(result: dict[str, Any], cron: dict[str, Any], now: datetime) -> list[str]:
    """The status lines under the table: the last good backup, the retention, the CronJob's own view."""
    lines = []
    backups = result["backups"]
    if backups:
        newest = backups[0]
        lines.append(
            f"last good backup: {newest['name']}, finished {newest['finished'][:19].replace('T', ' ')} UTC "
            f"({age(newest['finished'], now)} ago)"
        )
    else:
        lines.append(f"last good backup: none in {result['location']}")
    keep = result["retention"]
    lines.append(
        f"retention: the newest {keep['keep_last']} stay; older ones go after {keep['max_age_days']} days"
    )
    if result["incomplete"]:
        lines.append(f"incomplete (never restored, pruned after a day): {', '.join(result['incomplete'])}")
    status = cron.get("status") or {}
    lines.append(
        f"CronJob {NAMESPACE}/{cron['metadata']['name']} ({cron['apiVersion']}): schedule "
        f"'{cron['spec']['schedule']}', last scheduled {status.get('lastScheduleTime', 'never')}, last "
        f"successful {status.get('lastSuccessfulTime', 'not reported by this Kubernetes version')}"
    )
    return lines


def restore_lines(result: dict[str, Any]) -> list[str]:
    done = result["restore"]
    if done["dry_run"]:
        held = sum(done["replaced"].values())
        what = f"holds {len(done['replaced'])} tables ({held} rows)" if done["replaced"] else "holds no table"
        return [
            f"dry run: would restore {done['backup']} into the {done['into']} database {done['database']}, "
            f"which {what}" + ("; a safety backup would be taken first" if done["replaced"] else "")
        ]
    rows = ", ".join(f"{table} {count}" for table, count in sorted(done["rows"].items()))
    lines = [
        f"restored {done['backup']} into the {done['into']} database {done['database']} in "
        f"{done['seconds']:.1f}s: {sum(done['rows'].values())} rows ({rows})"
    ]
    if done["safety_backup"]:
        lines.append(
            f"safety backup of what was replaced: {done['safety_backup']} (to go back: `platformctl backup "
            f"restore --name {done['safety_backup']} --force`)"
        )
    return lines


def run_line(result: dict[str, Any]) -> list[str]:
    made = result["backup"]
    return [
        f"backup {made['name']}: {made['size']} bytes ({_size(made['size'])}) in {made['seconds']:.1f}s, "
        f"key id {made['key_id']}",
        f"retention deleted: {', '.join(result['pruned']) or 'nothing'}",
    ]

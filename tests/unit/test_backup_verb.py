"""`platformctl backup`: the Job it makes from the real rendered CronJob (both API versions), the runner's
arguments, how the runner's last line becomes our output and exit code, and the image's build inputs.
The Jobs themselves run on the cluster in the end-to-end run (tools/e2e/backup_restore.py)."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from platformctl import cli
from platformctl.app import backup
from platformctl.config import release
from platformctl.errors import KubernetesError, UsageError

from tools.charts import render
from tools.charts.validate import validate_object

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cronjobs() -> dict[str, dict]:
    rel = render.release("postgresql")
    out = {}
    for version in (
        render.versions()["kubernetes"]["harness"],
        render.versions()["kubernetes"]["validate"][-1],
    ):
        docs = render.render(rel, "prod", kube_version=version)
        out[version] = next(o for o in docs if o["kind"] == "CronJob")
    return out


@pytest.mark.parametrize(
    ("action", "kwargs", "expected"),
    [
        ("run", {}, ["backup", "--label", "manual"]),
        ("list", {}, ["list"]),
        ("restore", {}, ["restore", "--into", "running"]),
        (
            "restore",
            {"name": "20250101T021700Z-scheduled", "force": True},
            ["restore", "--into", "running", "--name", "20250101T021700Z-scheduled", "--force"],
        ),
        (
            "restore",
            {"into": "fresh", "target_db": "users_copy", "dry_run": True},
            ["restore", "--into", "fresh", "--target-db", "users_copy", "--dry-run"],
        ),
    ],
)
def test_runner_arguments(action, kwargs, expected):
    assert backup.runner_args(action, **kwargs) == expected


@pytest.mark.parametrize(
    ("action", "kwargs", "message"),
    [
        ("list", {"force": True}, "only go with `backup restore`"),
        ("run", {"name": "20250101T021700Z-x"}, "only go with `backup restore`"),
        ("restore", {"name": "latest"}, "is not a backup name"),
        ("restore", {"name": "x; rm -rf /"}, "is not a backup name"),
        ("restore", {"target_db": "users_copy"}, "only goes with --into fresh"),
        ("restore", {"into": "fresh", "target_db": "Users-Copy"}, "lower-case PostgreSQL name"),
    ],
)
def test_bad_arguments_are_one_usage_line(action, kwargs, message):
    with pytest.raises(UsageError, match=re.escape(message)) as caught:
        backup.runner_args(action, **kwargs)
    assert "\n" not in str(caught.value) and caught.value.exit_code == 2


def test_cli_refuses_before_touching_a_cluster(capsys):
    assert cli.main(["backup", "list", "--force"]) == 2
    assert "only go with `backup restore`" in capsys.readouterr().err
    assert cli.main(["backup", "restore", "--into", "sideways"]) == 2


@pytest.mark.parametrize("version", ["harness", "current"])
def test_job_from_the_rendered_cronjob(cronjobs, version):
    """Same image, Secrets, labels (its NetworkPolicy selects them) and security context as the scheduled
    backup; the runner's arguments; never retried; a valid batch/v1 Job; nothing secret in it."""
    key = sorted(cronjobs)[0 if version == "harness" else 1]
    cron = cronjobs[key]
    assert cron["apiVersion"] == ("batch/v1beta1" if version == "harness" else "batch/v1")
    cron["metadata"].setdefault("namespace", "data")
    args = backup.runner_args("restore", name="20250101T021700Z-scheduled", force=True)
    job = backup.job_manifest(cron, "restore", args)
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert re.fullmatch(r"postgresql-backup-restore-\d{14}-[0-9a-f]{4}", job["metadata"]["name"])
    assert job["spec"]["backoffLimit"] == 0
    pod, scheduled = job["spec"]["template"], cron["spec"]["jobTemplate"]["spec"]["template"]
    assert pod["spec"]["containers"][0]["args"] == args
    assert pod["spec"]["containers"][0]["image"] == scheduled["spec"]["containers"][0]["image"]
    assert pod["spec"]["volumes"] == scheduled["spec"]["volumes"]
    assert pod["spec"]["securityContext"] == scheduled["spec"]["securityContext"]
    assert pod["metadata"]["labels"] == scheduled["metadata"]["labels"]
    assert job["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "platformctl"
    assert scheduled["spec"]["containers"][0]["args"] == ["backup"]  # the CronJob itself is untouched
    validate_object(job, render.versions()["kubernetes"]["validate"][-1])
    text = str(job)
    assert "PGPASSWORD" not in text and not re.search(r"password['\"]?: ['\"]?\w", text)


def _pod(exit_code=None, waiting=None, message=""):
    state = SimpleNamespace(
        terminated=SimpleNamespace(exit_code=exit_code) if exit_code is not None else None,
        waiting=SimpleNamespace(reason=waiting, message=message) if waiting else None,
    )
    status = SimpleNamespace(name="backup", state=state)
    return SimpleNamespace(status=SimpleNamespace(container_statuses=[status]))


def test_a_pod_that_cannot_start_is_reported_at_once():
    missing = _pod(waiting="CreateContainerConfigError", message='secret "postgresql-backup-s3" not found')
    assert backup.stuck_reason([missing]) == (
        'CreateContainerConfigError: secret "postgresql-backup-s3" not found'
    )
    assert backup.stuck_reason([_pod(waiting="ContainerCreating")]) is None
    assert backup._exit_code([_pod(exit_code=3)]) == 3


def test_the_runner_result_becomes_output_or_one_error_line():
    log = 'pgbackup: restoring\n{"event": "error", "message": "database users holds 3 tables"}\n'
    refused = backup.Outcome("job-1", 3, backup.last_event(log), 1.0)
    with pytest.raises(UsageError, match="restore refused: database users holds 3 tables"):
        backup.checked(refused)
    failed = backup.Outcome("job-2", 1, {"event": "error", "message": "S3 upload failed (AccessDenied)"}, 1.0)
    with pytest.raises(KubernetesError, match=r"backup Job job-2 failed: S3 upload failed \(AccessDenied\)"):
        backup.checked(failed)
    with pytest.raises(KubernetesError, match="exit code 137, no message"):  # killed: no last line
        backup.checked(backup.Outcome("job-3", 137, backup.last_event("pgbackup: dumping\n"), 1.0))
    assert backup.last_event('{"not": "ours"}\n{broken\n') is None


def test_what_list_and_restore_print():
    now = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
    made = {
        "name": "20260102T021700Z-scheduled",
        "finished": "2026-01-02T02:17:09+00:00",
        "size": 3 * 1024 * 1024,
        "key_id": "00112233aabbccdd",
    }
    result = {
        "backups": [made],
        "incomplete": {},
        "location": "s3://backups/postgresql/users/",
        "retention": {"keep_last": 14, "max_age_days": 35},
    }
    cron = {
        "apiVersion": "batch/v1",
        "metadata": {"name": "postgresql-backup"},
        "spec": {"schedule": "17 2 * * *"},
        "status": {"lastScheduleTime": "2026-01-02T02:17:00Z", "lastSuccessfulTime": "2026-01-02T02:17:10Z"},
    }
    assert backup.list_rows(result, now) == [
        ["20260102T021700Z-scheduled", "2026-01-02 02:17:09", "42m", "3.0 MiB", "00112233aabbccdd"]
    ]
    lines = backup.list_summary(result, cron, now)
    assert (
        lines[0] == "last good backup: 20260102T021700Z-scheduled, finished 2026-01-02 02:17:09 UTC (42m ago)"
    )
    assert "last successful 2026-01-02T02:17:10Z" in lines[-1]
    restored = {
        "restore": {
            "backup": made["name"],
            "database": "users",
            "into": "running",
            "seconds": 2.5,
            "rows": {"public.users": 12, "public.schema_migrations": 5},
            "replaced": {"public.users": 0},
            "safety_backup": "20260102T030000Z-pre-restore",
            "dry_run": False,
        }
    }
    printed = backup.restore_lines(restored)
    assert printed[0].startswith(f"restored {made['name']} into the running database users in 2.5s: 17 rows")
    assert "--name 20260102T030000Z-pre-restore --force" in printed[1]


def test_backup_image_pins_agree_with_pyproject():
    """The image installs boto3 and cryptography at the root project's pins; its Dockerfile has no base
    default (apply passes the database's image) and runs as the postgres uid."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    root = dict(d.split("==", 1) for d in pyproject if "==" in d)
    lines = (REPO / "services/pgbackup/constraints.txt").read_text().splitlines()
    pinned = dict(line.split("==", 1) for line in lines if line and not line.startswith("#"))
    assert pinned["boto3"] == root["boto3"] and pinned["cryptography"] == root["cryptography"]
    dockerfile = (REPO / "services/pgbackup/Dockerfile").read_text()
    assert re.search(r"^ARG POSTGRES_IMAGE$", dockerfile, re.M) and "FROM ${POSTGRES_IMAGE}" in dockerfile
    assert "USER 999:999" in dockerfile and "constraints.txt boto3 cryptography" in dockerfile
    assert "!pgbackup/" in (REPO / "services/.dockerignore").read_text().splitlines()


def test_generated_values_carry_the_backup_image_and_its_base_follows_the_overlay(tmp_path):
    """The postgresql release's generated values name the pgbackup image apply built; that image's base is
    what the release runs after every values file (the harness's stand-in through the site overlay)."""
    from platformctl.app import values
    from platformctl.config.secret_map import load as load_secret_map

    planned = release.Release(
        "postgresql",
        "data",
        "charts/postgresql",
        ("common.yaml", "values/generated/dev/postgresql.yaml", "overlay.yaml"),
    )
    images = {
        "postgresql": {"repository": "postgres", "tag": "16.10-bookworm"},
        "pgbackup": {"repository": "platform/pgbackup", "tag": "0.1.0-abcdef012345"},
    }
    generated = values.generated(planned, load_secret_map(), {}, images)
    assert generated["backup"] == {"image": {"repository": "platform/pgbackup", "tag": "0.1.0-abcdef012345"}}
    (tmp_path / "common.yaml").write_text("existingSecret: postgresql-credentials\n")
    assert values.release_image(planned, tmp_path) is None  # versions.yaml's pin then
    (tmp_path / "overlay.yaml").write_text("image: {repository: e2e/postgresql, tag: debian-15}\n")
    assert values.release_image(planned, tmp_path) == "e2e/postgresql:debian-15"
    assert values.release_image(None, tmp_path) is None

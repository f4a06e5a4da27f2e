"""The postgresql chart's backup CronJob (docs/adr/0008-*): API version per Kubernetes version, the
settings per env, the Secrets it mounts, its NetworkPolicy edges, and what its values schema refuses.
Pod Security "restricted", requests/limits and pinned images of its pod are checked with every other
workload in test_policy.py."""

from __future__ import annotations

import pytest

from tests.charts.netpol import Pod, connection_allowed
from tests.charts.test_policy import _pod, policies_for
from tools.charts import render

POSTGRESQL = render.release("postgresql")


def _cronjob(docs: list[dict]) -> dict:
    found = [o for o in docs if o["kind"] == "CronJob"]
    assert len(found) == 1, [o["kind"] for o in docs]
    return found[0]


def _container(cron: dict) -> dict:
    return cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]


def _env(cron: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in _container(cron)["env"]}


def test_cronjob_api_follows_the_kubernetes_version(rendered, rendered_harness):
    for env in render.ENVS:
        assert _cronjob(rendered[("postgresql", env)])["apiVersion"] == "batch/v1"
        assert _cronjob(rendered_harness[("postgresql", env)])["apiVersion"] == "batch/v1beta1"
    for version in render.versions()["kubernetes"]["validate"]:
        docs = render.render(POSTGRESQL, "prod", kube_version=version)
        assert _cronjob(docs)["apiVersion"] == "batch/v1", version


@pytest.mark.parametrize(
    ("env", "keep", "days"), [("dev", "3", "3"), ("staging", "7", "14"), ("prod", "14", "35")]
)
def test_retention_and_settings_per_env(rendered, env, keep, days):
    cron = _cronjob(rendered[("postgresql", env)])
    settings = _env(cron)
    assert (settings["PGBACKUP_KEEP_LAST"], settings["PGBACKUP_MAX_AGE_DAYS"]) == (keep, days)
    assert settings["PGBACKUP_DB_NAME"] == "users" and settings["PGBACKUP_DB_OWNER"] == "users"
    assert settings["PGBACKUP_DB_HOST"] == "postgresql.data.svc.cluster.local"
    assert (settings["PGBACKUP_S3_BUCKET"], settings["PGBACKUP_S3_PREFIX"]) == ("backups", "postgresql/")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid" and cron["spec"]["schedule"]
    pin = render.versions()["images"]["pgbackup"]
    assert _container(cron)["image"] == f"{pin['repository']}:{pin['tag']}"
    assert _container(cron)["args"] == ["backup"]


def test_secrets_as_files_and_only_the_superuser_password(rendered):
    cron = _cronjob(rendered[("postgresql", "prod")])
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
    assert volumes["credentials"]["secretName"] == "postgresql-credentials"
    assert volumes["credentials"]["items"] == [{"key": "postgres-password", "path": "postgres-password"}]
    assert volumes["secret-s3"]["secretName"] == "postgresql-backup-s3"
    assert volumes["secret-encryption"]["secretName"] == "postgresql-backup-key"
    mounts = {m["mountPath"] for m in _container(cron)["volumeMounts"]}
    for name, value in _env(cron).items():
        if name.endswith("_FILE"):  # every file setting points into a mounted Secret
            assert value.rsplit("/", 1)[0] in mounts, name
        else:
            assert "/var/run/secrets" not in value
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False


def _backup_pod(rendered, env: str) -> Pod:
    cron = _cronjob(rendered[("postgresql", env)])
    return Pod("data", cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"])


@pytest.mark.parametrize("env", render.ENVS)
def test_backup_pods_reach_postgresql_and_the_store_only(rendered, env):
    policies = policies_for(rendered, env)
    backup = _backup_pod(rendered, env)
    assert connection_allowed(policies, backup, _pod(rendered, env, "postgresql"), 5432)
    assert connection_allowed(policies, backup, _pod(rendered, env, "minio"), 9000)
    assert not connection_allowed(policies, backup, _pod(rendered, env, "rabbitmq"), 5672)
    assert not connection_allowed(policies, backup, _pod(rendered, env, "users"), 8080)
    for src in ("users", "auth", "notifications"):  # nothing connects to a backup pod
        assert not connection_allowed(policies, _pod(rendered, env, src), backup, 5432)
    assert not connection_allowed(
        policies, _pod(rendered, env, "auth"), _pod(rendered, env, "postgresql"), 5432
    )


def test_backup_can_be_switched_off(rendered):
    docs = render.render(POSTGRESQL, "dev", extra=["--set", "backup.enabled=false"])
    assert not [o for o in docs if o["kind"] == "CronJob" or o["metadata"]["name"] == "postgresql-backup"]
    policy = next(o for o in docs if o["kind"] == "NetworkPolicy")
    assert "postgresql-backup" not in str(policy["spec"]["ingress"])
    assert "postgresql-backup" in str(
        next(o for o in rendered[("postgresql", "dev")] if o["kind"] == "NetworkPolicy")
    )


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ('backup.schedule="daily"', "backup.schedule"),
        ("backup.retention.keepLast=0", "backup.retention.keepLast"),
        ('backup.s3.prefix="no-slash"', "backup.s3.prefix"),
        ('backup.s3.endpoint="minio:9000"', "backup.s3.endpoint"),
        ("backup.resources.limits.memory=null", "memory"),  # requests and limits are required
        ("backup.retention.keepForever=true", "keepForever"),
    ],
)
def test_schema_refuses_bad_backup_values(override, named):
    with pytest.raises(render.RenderError) as caught:
        render.run_helm(render.helm_args(POSTGRESQL, "dev", extra=["--set-json", override]))
    assert named.rsplit(".", 1)[-1] in str(caught.value), str(caught.value)


def test_latest_backup_image_is_refused():
    with pytest.raises(render.RenderError, match=r"backup\.image\.tag"):  # --set-string outranks --set-json
        render.run_helm(
            render.helm_args(POSTGRESQL, "dev", extra=["--set-string", "backup.image.tag=latest"])
        )


def test_missing_backup_image_stops_the_render():
    args = [a for a in render.helm_args(POSTGRESQL, "dev")]
    pin = args[args.index("--set-string") + 1]
    args[args.index("--set-string") + 1] = ",".join(p for p in pin.split(",") if not p.startswith("backup."))
    with pytest.raises(
        render.RenderError, match=r"backup\.image\.repository and backup\.image\.tag must be set"
    ):
        render.run_helm(args)

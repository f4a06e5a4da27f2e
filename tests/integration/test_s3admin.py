"""Per-consumer S3 users and access-key rotation through the AWS IAM API of a real SeaweedFS (own server,
IAM writes enabled; see conftest `iam_s3`) and a real OpenBao. FakeKubeAPI stands in for Kubernetes only.
The MinIO back end (s3admin.MinioAdmin) cannot be tested here: no MinIO server is obtainable.
"""

from __future__ import annotations

import base64
import secrets

import pytest
from botocore.exceptions import ClientError
from kubernetes import config
from platformctl.adapters import s3admin, storage
from platformctl.adapters.kube import KubeSecrets
from platformctl.app import rotate, s3keys
from platformctl.errors import ConfigError, PlatformError

from tests.fixtures.servers import wait_until
from tests.integration.envs import allow_env

PATH = "notifications-s3"


@pytest.fixture
def admin(iam_s3) -> s3admin.IamAdmin:
    return s3admin.IamAdmin(iam_s3.endpoint, iam_s3.access_key, iam_s3.secret_key)


@pytest.fixture
def consumer(iam_s3, monkeypatch) -> tuple[str, str]:
    """A fresh consumer user and its bucket (plus its entry in storage.BUCKETS), per test."""
    suffix = secrets.token_hex(3)
    user, bucket = f"notif-{suffix}", f"notifications-{suffix}"
    monkeypatch.setattr(storage, "BUCKETS", {bucket: (user, "users/")})
    s3 = storage.client(iam_s3.endpoint, iam_s3.access_key, iam_s3.secret_key)
    storage.ensure(s3, {bucket: (user, "users/"), f"other-{suffix}": ("x", "")})
    return user, bucket


def _spec(smap, user):
    return smap.rotations[PATH].model_copy(update={"role": user})


def _s3(iam_s3, key_id, secret):
    return storage.client(iam_s3.endpoint, key_id, secret)


def _denied(call) -> bool:
    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"] in {"AccessDenied", "InvalidAccessKeyId"}
    return False


def test_consumer_may_use_only_its_bucket(iam_s3, admin, consumer):
    user, bucket = consumer
    assert admin.ensure_user(user, bucket, "users/") is True
    assert admin.ensure_user(user, bucket, "users/") is False  # idempotent
    key_id, secret = admin.create_key(user)
    wait_until(lambda: s3admin.can_use(iam_s3.endpoint, key_id, secret, bucket), 30, "new key")
    s3 = _s3(iam_s3, key_id, secret)
    s3.put_object(Bucket=bucket, Key="users/1/e.json", Body=b"{}")
    assert s3.get_object(Bucket=bucket, Key="users/1/e.json")["Body"].read() == b"{}"
    assert _denied(lambda: s3.put_object(Bucket=bucket, Key="elsewhere.json", Body=b"{}"))  # prefix only
    other = bucket.replace("notifications-", "other-")
    assert _denied(lambda: s3.put_object(Bucket=other, Key="users/1/e.json", Body=b"{}"))
    assert _denied(lambda: s3.list_objects_v2(Bucket=other))
    assert _denied(lambda: s3.create_bucket(Bucket=f"{bucket}-mine"))
    assert not s3admin.can_use(iam_s3.endpoint, key_id, "wrong-secret", bucket)


def test_storage_ensure_users_issues_a_key_into_vault_once(iam_s3, admin, consumer, seeded, smap):
    user, bucket = consumer
    rotations = {PATH: _spec(smap, user)}
    rows = s3keys.ensure_users(admin, seeded, rotations, "us-east-1")
    assert rows[0][:2] == [user, f"{bucket}/users/"] and rows[0][2].startswith("created, key issued")
    data = seeded.read(PATH).data
    assert admin.keys(user) == [data["access-key"]]
    assert s3admin.can_use(iam_s3.endpoint, data["access-key"], data["secret-key"], bucket)
    assert s3keys.ensure_users(admin, seeded, rotations, "us-east-1")[0][2] == "unchanged"
    assert seeded.read(PATH).data == data


def _plan(iam_s3, admin, consumer, seeded, smap, fake_kube):
    user, _ = consumer
    spec = _spec(smap, user)
    s3keys.ensure_users(admin, seeded, {PATH: spec}, "us-east-1")
    store = KubeSecrets(config.new_client_from_config(config_file=str(fake_kube[1])))
    steps = rotate.steps_for(spec, smap, seeded, store, None)
    return rotate.Plan(PATH, spec, steps, [], s3keys.issuer_for(spec, admin)), seeded.read(PATH)


def test_rotation_new_key_works_old_refused_secret_updated(iam_s3, admin, consumer, seeded, smap, fake_kube):
    user, bucket = consumer
    plan, old = _plan(iam_s3, admin, consumer, seeded, smap, fake_kube)
    lines: list[str] = []
    before, after = rotate.run(plan, seeded, lines.append)
    new = seeded.read(PATH)
    assert after == before + 1 == new.version
    assert new.data["access-key"] != old.data["access-key"] and admin.keys(user) == [new.data["access-key"]]
    assert s3admin.can_use(iam_s3.endpoint, new.data["access-key"], new.data["secret-key"], bucket)
    assert not s3admin.can_use(iam_s3.endpoint, old.data["access-key"], old.data["secret-key"], bucket)
    mounted = fake_kube[0].secrets[("apps", "notifications-s3")]["data"]
    assert base64.b64decode(mounted["secret-key"]).decode() == new.data["secret-key"]
    assert base64.b64decode(mounted["access-key"]).decode() == new.data["access-key"]
    assert not any(new.data["secret-key"] in line or old.data["secret-key"] in line for line in lines)


def test_failed_rotation_deletes_the_new_key_and_restores_vault(
    iam_s3, admin, consumer, seeded, smap, fake_kube
):
    user, bucket = consumer
    plan, old = _plan(iam_s3, admin, consumer, seeded, smap, fake_kube)
    fake_kube[0].fail_apply = True
    with pytest.raises(PlatformError, match=f"rotation of {PATH} failed .*previous value restored"):
        rotate.run(plan, seeded, lambda _line: None)
    latest = seeded.read(PATH)
    assert latest.data == old.data and latest.version == old.version + 2
    assert admin.keys(user) == [old.data["access-key"]]
    assert s3admin.can_use(iam_s3.endpoint, old.data["access-key"], old.data["secret-key"], bucket)


def test_storage_verb_with_iam_backend(run_cli, iam_s3, consumer, seeded, smap, monkeypatch, vault_server):
    user, _ = consumer
    seeded.write("minio", {"root-user": iam_s3.access_key, "root-password": iam_s3.secret_key})
    monkeypatch.setenv("VAULT_ADDR", vault_server.addr)
    monkeypatch.setenv("VAULT_TOKEN", vault_server.token)
    allow_env(monkeypatch, seeded.env)
    monkeypatch.setattr(
        "platformctl.config.secret_map.load",
        lambda: smap.model_copy(update={"rotations": {PATH: _spec(smap, user)}}),
    )
    argv = ("storage", "ensure", "--env", seeded.env, "--endpoint", iam_s3.endpoint)
    code, out, err = run_cli(*argv, "--admin-api", "none")
    assert code == 0 and "consumer users skipped: no admin API chosen" in out, err  # never silent
    code, out, err = run_cli(*argv, "--admin-api", "iam")
    assert code == 0, err
    assert f"{user}" in out and "key issued" in out
    assert seeded.read(PATH).data["access-key"] in s3admin.IamAdmin(
        iam_s3.endpoint, iam_s3.access_key, iam_s3.secret_key
    ).keys(user)


def test_admin_errors_are_one_line(iam_s3):
    with pytest.raises(ConfigError, match="PLATFORMCTL_S3_ADMIN_API 'ceph' is unknown"):
        s3admin.connect("ceph", iam_s3.endpoint, "a", "b")
    with pytest.raises(ConfigError, match=r"MinIO admin API: .*check PLATFORMCTL_S3_ENDPOINT"):
        s3admin.connect("minio", iam_s3.endpoint, "", "")  # only the constructor: no MinIO server here
    with pytest.raises(ConfigError, match="no S3 endpoint"):
        s3admin.from_env({}, {})
    bad = s3admin.IamAdmin(iam_s3.endpoint, iam_s3.access_key, "wrong-secret-sentinel")
    with pytest.raises(ConfigError, match=r"S3 admin API: CreateUser \w+ failed") as caught:
        bad.ensure_user("someone", "b", "")
    assert "sentinel" not in str(caught.value)
    with pytest.raises(ConfigError, match=r"no bucket in storage\.BUCKETS belongs to S3 user 'nobody'"):
        s3keys.bucket_of("nobody")


def test_rotate_dry_run_describes_the_key_steps(run_cli, seeded, smap, monkeypatch, vault_server):
    monkeypatch.setenv("VAULT_ADDR", vault_server.addr)
    monkeypatch.setenv("VAULT_TOKEN", vault_server.token)
    monkeypatch.delenv("PLATFORMCTL_S3_ENDPOINT", raising=False)
    allow_env(monkeypatch, seeded.env)
    before = seeded.read(PATH)
    code, out, err = run_cli("rotate", "--env", seeded.env, "--secret", PATH, "--dry-run")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("issue a new access key for S3 user notifications")
    assert "then: update Secrets notifications-s3" in lines
    assert lines[-2] == "then: delete the previous credential on the server"
    assert seeded.read(PATH) == before


def test_secret_map_rejects_an_undeclared_user_key():
    import yaml
    from platformctl.config.secret_map import SecretMap, default_path
    from pydantic import ValidationError

    raw = yaml.safe_load(default_path().read_text())  # the file as written (a validated map lists
    # its mounts' releases among the consumers too, so its dump is not the file's shape)
    raw["rotations"][PATH]["user_key"] = "no-such-key"
    with pytest.raises(ValidationError, match="uses kv/<env>/notifications-s3 key 'no-such-key'"):
        SecretMap.model_validate(raw)

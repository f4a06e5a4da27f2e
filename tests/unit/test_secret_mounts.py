"""One source per fact (issue 12): values/secrets-map.yaml says which release reads which Secret; for
charts/microservice releases `platformctl values` generates the mounts and `*_FILE` settings from it, and
every release's values must name exactly the Secrets the map gives it (one-line error otherwise)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from platformctl.adapters.vault import Entry
from platformctl.app import values
from platformctl.config import secret_map
from platformctl.config.release import Release
from platformctl.config.secret_map import SecretMap
from platformctl.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
MAP = REPO / "values" / "secrets-map.yaml"
CHART = {"users": "microservice", "auth": "microservice", "notifications": "microservice"}
NAMESPACE = {"users": "apps", "auth": "apps", "notifications": "apps", "postgresql": "data"}


def _entries(smap: SecretMap) -> dict[str, Entry]:
    """Stand-in Vault entries (the checksum needs some; no test here looks at it)."""
    return {path: Entry(path, {key: "not-a-secret" for key in keys}, 1) for path, keys in smap.vault.items()}


def _map(tmp_path: Path, edit: Callable[[dict[str, Any]], None] | None = None) -> SecretMap:
    """The repository's map, changed by `edit(raw)` and loaded from a copy."""
    raw = yaml.safe_load(MAP.read_text())
    if edit:
        edit(raw)
    path = tmp_path / "secrets-map.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return secret_map.load(path)


def _release(root: Path, name: str, overlay: str | None = None) -> Release:
    """A tmp checkout holding the release's own chart (values.yaml, schema) and its committed dev values."""
    chart = CHART.get(name, name)
    (root / "charts" / chart).mkdir(parents=True, exist_ok=True)
    for file in ("values.yaml", "values.schema.json"):
        shutil.copy(REPO / "charts" / chart / file, root / "charts" / chart / file)
    files = [f"values/common/{name}.yaml", f"values/dev/{name}.yaml", f"values/generated/dev/{name}.yaml"]
    for file in files[:2]:
        (root / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / file, root / file)
    if overlay is not None:
        (root / "site").mkdir(exist_ok=True)
        (root / "site" / f"{name}.yaml").write_text(overlay)
        files.append(f"site/{name}.yaml")
    return Release(name, NAMESPACE[name], f"charts/{chart}", tuple(files))


def _render(root: Path, release: Release, smap: SecretMap) -> dict[str, Any]:
    images = {
        release.name: {"repository": "platform/x", "tag": "1.0.0"},
        "pgbackup": {"repository": "b", "tag": "1"},
    }
    _, body = values.render(release, smap, _entries(smap), images, root)
    generated: dict[str, Any] = yaml.safe_load(body)
    return generated


def _refused(root: Path, release: Release, smap: SecretMap) -> str:
    with pytest.raises(ConfigError) as caught:
        _render(root, release, smap)
    message = str(caught.value)
    assert "\n" not in message
    return message


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


# --- what the generated values carry ------------------------------------------------------------------------

# What values/common/{users,auth,notifications}.yaml said by hand before the map described the mounts.
BEFORE: dict[str, dict[str, Any]] = {
    "users": {
        "secretMounts": [{"name": "users-db"}, {"name": "rabbitmq-app", "migration": False}],
        "migration": {"secretMounts": [{"name": "users-admin"}]},
        "settings": {
            "USERS_DB_PASSWORD_FILE": "/var/run/secrets/platform/users-db/password",
            "USERS_ADMIN_EMAIL_FILE": "/var/run/secrets/platform/users-admin/email",
            "USERS_ADMIN_PASSWORD_FILE": "/var/run/secrets/platform/users-admin/password",
            "USERS_RABBITMQ_USERNAME_FILE": "/var/run/secrets/platform/rabbitmq-app/username",
            "USERS_RABBITMQ_PASSWORD_FILE": "/var/run/secrets/platform/rabbitmq-app/password",
        },
    },
    "auth": {
        "secretMounts": [{"name": "auth-jwt-keys"}],
        "settings": {"AUTH_JWT_KEYSET_FILE": "/var/run/secrets/platform/auth-jwt-keys/keyset.json"},
    },
    "notifications": {
        "secretMounts": [{"name": "rabbitmq-app"}, {"name": "notifications-s3"}],
        "settings": {
            "NOTIFICATIONS_RABBITMQ_USERNAME_FILE": "/var/run/secrets/platform/rabbitmq-app/username",
            "NOTIFICATIONS_RABBITMQ_PASSWORD_FILE": "/var/run/secrets/platform/rabbitmq-app/password",
            "NOTIFICATIONS_S3_ACCESS_KEY_FILE": "/var/run/secrets/platform/notifications-s3/access-key",
            "NOTIFICATIONS_S3_SECRET_KEY_FILE": "/var/run/secrets/platform/notifications-s3/secret-key",
        },
    },
}


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_generated_mounts_and_file_settings_are_what_the_values_files_said(tmp_path: Path, name: str) -> None:
    """The generated file carries exactly the mounts (in the same order: the pods' volume order) and
    `*_FILE` settings the hand-written values had, and the committed values files no longer repeat them."""
    smap = secret_map.load()
    release = _release(tmp_path, name)
    generated = _render(tmp_path, release, smap)
    assert {key: generated[key] for key in BEFORE[name]} == BEFORE[name]
    assert set(generated) == {*BEFORE[name], "secretChecksum", "image"}
    for file in release.values_files[:2]:
        written = values.load_yaml(REPO / file)
        assert "secretMounts" not in written and "secretMounts" not in written.get("migration", {}), file
        assert not [k for k in written.get("settings", {}) if k.endswith("_FILE")], file


def test_the_checksum_covers_the_mounted_rollout_secrets_only(tmp_path: Path) -> None:
    """users mounts users-db, rabbitmq-app (pods) and users-admin (Job): a new version of any of them changes
    its checksum; a Secret it does not mount (auth-jwt-keys) does not."""
    smap = secret_map.load()
    release = _release(tmp_path, "users")
    entries = _entries(smap)
    base = values.generated(release, smap, entries, {})["secretChecksum"]
    for path, changes in (
        ("postgresql", True),
        ("rabbitmq", True),
        ("users-admin", True),
        ("auth-jwt", False),
    ):
        bumped = {**entries, path: Entry(path, entries[path].data, 2)}
        assert (values.generated(release, smap, bumped, {})["secretChecksum"] != base) is changes, path


def test_mount_options_pods_and_migration(tmp_path: Path) -> None:
    """`migration: false`: the pods only; `pods: false`: the migration Job only; settings name key files."""

    def edit(raw: dict[str, Any]) -> None:
        raw["secrets"]["users-db"]["mounts"]["users"] = {"settings": {"USERS_DB_PASSWORD_FILE": "password"}}
        raw["secrets"]["users-db"]["mounts"]["users"]["pods"] = False
        raw["secrets"]["rabbitmq-app"]["mounts"]["users"]["migration"] = True

    generated = _render(tmp_path, _release(tmp_path, "users"), _map(tmp_path, edit))
    assert generated["secretMounts"] == [{"name": "rabbitmq-app"}]
    assert generated["migration"] == {"secretMounts": [{"name": "users-db"}, {"name": "users-admin"}]}


# --- refused: one line naming the file, the release and the Secret ------------------------------------------


def test_a_consumer_without_its_mount_is_refused(tmp_path: Path) -> None:
    def edit(raw: dict[str, Any]) -> None:
        del raw["secrets"]["notifications-s3"]["mounts"]
        raw["secrets"]["notifications-s3"]["consumers"] = ["notifications"]

    message = _refused(tmp_path, _release(tmp_path, "notifications"), _map(tmp_path, edit))
    assert message == (
        "values/secrets-map.yaml: release notifications is a consumer of Secret notifications-s3 but its "
        "values never name it; give it a mount there (secrets.notifications-s3.mounts.notifications) or "
        "remove notifications from secrets.notifications-s3.consumers"
    )


def test_a_values_file_mounting_a_secret_by_hand_is_refused(tmp_path: Path) -> None:
    release = _release(tmp_path, "notifications")
    _append(tmp_path / "values/dev/notifications.yaml", "secretMounts:\n  - name: users-db\n")
    assert _refused(tmp_path, release, secret_map.load()) == (
        "values/dev/notifications.yaml: `secretMounts` mounts Secret users-db into release notifications "
        "by hand; mounts come from values/secrets-map.yaml: give it a mount there "
        "(secrets.users-db.mounts.notifications) and remove `secretMounts` here"
    )
    release = _release(tmp_path, "users", overlay="migration:\n  secretMounts: [{name: auth-jwt-keys}]\n")
    assert _refused(tmp_path, release, secret_map.load()).startswith(
        "site/users.yaml: `migration.secretMounts` mounts Secret auth-jwt-keys into release users by hand; "
    )
    # an overlay that empties the list would unmount what the map gives: refused too
    release = _release(tmp_path, "auth", overlay="secretMounts: []\n")
    assert _refused(tmp_path, release, secret_map.load()) == (
        "site/auth.yaml: `secretMounts` of release auth is generated from values/secrets-map.yaml; "
        "remove it here"
    )


def test_a_hand_written_file_setting_is_refused(tmp_path: Path) -> None:
    release = _release(tmp_path, "notifications")
    (tmp_path / "values/dev/notifications.yaml").write_text(
        "settings:\n  NOTIFICATIONS_DB_PASSWORD_FILE: /var/run/secrets/platform/users-db/password\n"
    )
    assert _refused(tmp_path, release, secret_map.load()) == (
        "values/dev/notifications.yaml: `settings.NOTIFICATIONS_DB_PASSWORD_FILE` names a file of Secret "
        "users-db by hand; give release notifications a mount of it in values/secrets-map.yaml "
        "(secrets.users-db.mounts.notifications.settings) and remove the setting here"
    )
    (tmp_path / "values/dev/notifications.yaml").write_text(
        "settings:\n  NOTIFICATIONS_S3_SECRET_KEY_FILE: /tmp/key\n"
    )
    assert _refused(tmp_path, release, secret_map.load()) == (
        "values/dev/notifications.yaml: `settings.NOTIFICATIONS_S3_SECRET_KEY_FILE` of release notifications "
        "is generated from values/secrets-map.yaml (Secret notifications-s3); remove it here"
    )


def test_a_data_store_naming_a_secret_the_map_does_not_give_it_is_refused(tmp_path: Path) -> None:
    release = _release(tmp_path, "postgresql")
    _append(tmp_path / "values/dev/postgresql.yaml", "existingSecret: postgresql-credentialz\n")
    assert _refused(tmp_path, release, secret_map.load()) == (
        "values/dev/postgresql.yaml: release postgresql names Secret postgresql-credentialz "
        "(`existingSecret`), which values/secrets-map.yaml does not declare; declare it there with "
        "postgresql as a consumer, or fix the name"
    )
    (tmp_path / "values/dev/postgresql.yaml").write_text("existingSecret: minio-root\n")
    assert _refused(tmp_path, release, secret_map.load()) == (
        "values/dev/postgresql.yaml: release postgresql names Secret minio-root (`existingSecret`) but "
        "values/secrets-map.yaml does not give it to postgresql; add postgresql to "
        "secrets.minio-root.consumers there (so its checksum and rotation cover it), or fix the name"
    )


def test_a_chart_default_naming_a_secret_is_checked_too(tmp_path: Path) -> None:
    """postgresql's backup Secrets are named by the chart's own values.yaml: still a reference."""

    def edit(raw: dict[str, Any]) -> None:
        raw["secrets"]["postgresql-backup-key"]["consumers"] = []

    message = _refused(tmp_path, _release(tmp_path, "postgresql"), _map(tmp_path, edit))
    assert message.startswith(
        "charts/postgresql/values.yaml: release postgresql names Secret postgresql-backup-key "
        "(`backup.encryption.existingSecret`) but values/secrets-map.yaml does not give it to postgresql; "
    )


def test_a_data_store_consumer_its_values_never_name_is_refused(tmp_path: Path) -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["secrets"]["minio-root"]["consumers"].append("postgresql")

    assert _refused(tmp_path, _release(tmp_path, "postgresql"), _map(tmp_path, edit)) == (
        "values/secrets-map.yaml: release postgresql is a consumer of Secret minio-root but its values never "
        "name it; name it in its values (e.g. `existingSecret: minio-root`) or remove postgresql from "
        "secrets.minio-root.consumers"
    )


def test_a_mount_for_a_chart_without_secret_mounts_is_refused(tmp_path: Path) -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["secrets"]["postgresql-credentials"]["consumers"] = []
        raw["secrets"]["postgresql-credentials"]["mounts"] = {"postgresql": {}}

    assert _refused(tmp_path, _release(tmp_path, "postgresql"), _map(tmp_path, edit)) == (
        "values/secrets-map.yaml: secrets.postgresql-credentials.mounts.postgresql: the chart of release "
        "postgresql (charts/postgresql) takes no `secretMounts`; list postgresql under "
        "secrets.postgresql-credentials.consumers and name the Secret in its values instead"
    )


def test_an_upstream_release_is_checked_and_a_look_alike_value_is_no_reference(tmp_path: Path) -> None:
    """kube-prometheus-stack names alertmanager-receivers in `alertmanager.alertmanagerSpec.secrets`: a site
    overlay that drops it is refused; a setting that merely equals a Secret's name (a bucket) is fine."""
    files = ["values/common/kube-prometheus-stack.yaml", "values/generated/dev/kube-prometheus-stack.yaml"]
    (tmp_path / "values/common").mkdir(parents=True)
    shutil.copy(REPO / files[0], tmp_path / files[0])
    (tmp_path / "site.yaml").write_text("alertmanager: {alertmanagerSpec: {secrets: []}}\n")
    upstream = Release("kube-prometheus-stack", "monitoring", None, (*files, "site.yaml"))
    assert _refused(tmp_path, upstream, secret_map.load()) == (
        "values/secrets-map.yaml: release kube-prometheus-stack is a consumer of Secret "
        "alertmanager-receivers but its values never name it; name it in its values (e.g. `existingSecret: "
        "alertmanager-receivers`) or remove kube-prometheus-stack from "
        "secrets.alertmanager-receivers.consumers"
    )
    release = _release(tmp_path, "notifications")
    (tmp_path / "values/dev/notifications.yaml").write_text("settings: {NOTIFICATIONS_S3_BUCKET: users-db}\n")
    assert (
        _render(tmp_path, release, secret_map.load())["secretMounts"]
        == BEFORE["notifications"]["secretMounts"]
    )

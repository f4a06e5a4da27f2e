"""`secrets sync` against a real OpenBao dev server and the FakeKubeAPI (stand-in for Kubernetes only)."""

from __future__ import annotations

import base64

import pytest
from kubernetes import config
from platformctl.adapters.kube import VERSION_ANNOTATION, KubeSecrets, api_client
from platformctl.adapters.vault import connect
from platformctl.app import secrets_sync
from platformctl.errors import KubernetesError, VaultError


def _store(kubeconfig) -> KubeSecrets:
    return KubeSecrets(config.new_client_from_config(config_file=str(kubeconfig)))


def _decoded(secret: dict) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def test_sync_server_side_applies_every_mapped_secret(seeded, smap, fake_kube):
    api, kubeconfig = fake_kube
    results = secrets_sync.sync(seeded, _store(kubeconfig), smap)
    assert sorted(r.name for r in results) == sorted(smap.secrets)
    assert all(r.changed for r in results)
    apply = api.applies[0]
    assert apply["content_type"] == "application/apply-patch+yaml"
    # The client sends force=True; the API server parses it with Go's ParseBool, which accepts it.
    assert apply["query"]["fieldManager"] == ["platformctl"] and apply["query"]["force"] == ["True"]
    users_db = api.secrets[("apps", "users-db")]
    assert users_db["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "platformctl"}
    pg = seeded.read("postgresql")
    assert users_db["metadata"]["annotations"][VERSION_ANNOTATION] == str(pg.version)
    assert _decoded(users_db) == {"password": pg.data["users-password"]}
    assert _decoded(api.secrets[("apps", "auth-jwt-keys")]).keys() == {"keyset.json"}


def test_second_sync_changes_only_what_vault_changed(seeded, smap, fake_kube):
    api, kubeconfig = fake_kube
    store = _store(kubeconfig)
    secrets_sync.sync(seeded, store, smap)
    before = len(api.applies)
    assert not any(r.changed for r in secrets_sync.sync(seeded, store, smap))
    s3 = seeded.read("notifications-s3")
    seeded.write("notifications-s3", {**s3.data, "secret-key": "next-value"})
    changed = {r.name for r in secrets_sync.sync(seeded, store, smap) if r.changed}
    assert changed == {"notifications-s3"}
    assert len(api.applies) == before + 1


def test_bootstrap_only_secret_changed_outside_rotate_is_refused(seeded, smap, fake_kube):
    """rabbitmq-credentials is read by the broker on its first start only (`rollout: false`): a Vault value
    that differs from the Secret (changed by hand, or a new dev Vault against an old cluster) would lock
    the apps out. Before: synced silently, and the next release waited into a timeout."""
    api, kubeconfig = fake_kube
    store = _store(kubeconfig)
    secrets_sync.sync(seeded, store, smap)
    before = len(api.applies)
    rabbit = seeded.read("rabbitmq")
    seeded.write("rabbitmq", {**rabbit.data, "password": "next-value"})
    with pytest.raises(VaultError) as caught:
        secrets_sync.sync(seeded, store, smap)
    message = str(caught.value)
    secret, path = "data/rabbitmq-credentials", f"kv/{seeded.env}/rabbitmq"
    assert message.startswith(f"Secret {secret} differs from Vault {path},")
    assert f"`make rotate ENV={seeded.env} SECRET=rabbitmq-app-password`" in message
    assert "next-value" not in message
    assert len(api.applies) == before  # nothing written, not even the Secrets that may change
    changed = {r.name for r in secrets_sync.sync(seeded, store, smap, rotating=True) if r.changed}
    assert changed == {"rabbitmq-app", "rabbitmq-credentials"}


def test_dry_run_applies_nothing(seeded, smap, fake_kube):
    api, kubeconfig = fake_kube
    results = secrets_sync.sync(seeded, _store(kubeconfig), smap, dry_run=True)
    assert all(r.changed for r in results) and api.applies == []


def test_missing_key_fails_before_any_apply(root_vault, smap, fake_kube):
    api, kubeconfig = fake_kube
    from platformctl.app import vault_dev

    vault_dev.seed(root_vault, smap)
    root_vault.write("minio", {"root-user": "admin"})
    with pytest.raises(VaultError, match=r"has no key 'root-password' \(needed by Secret data/minio-root\)"):
        secrets_sync.sync(root_vault, _store(kubeconfig), smap)
    assert api.applies == []


def test_missing_path_names_it(root_vault, smap, fake_kube):
    _, kubeconfig = fake_kube
    with pytest.raises(VaultError, match=rf"secret kv/{root_vault.env}/\S+ does not exist"):
        secrets_sync.sync(root_vault, _store(kubeconfig), smap)


def test_kube_api_error_is_one_line(seeded, smap, fake_kube):
    api, kubeconfig = fake_kube
    api.fail_apply = True
    with pytest.raises(KubernetesError, match=r"applying Secret \S+ failed: HTTP 500"):
        secrets_sync.sync(seeded, _store(kubeconfig), smap, only=["users-db"])


def test_kube_context_must_be_the_envs(tmp_path):
    from tools.fake_kube import running_fake

    missing = pytest.raises(KubernetesError, match="kube context 'kind-platform-dev' for dev is missing")
    with running_fake(tmp_path, context="kind-someone-else") as (_, kubeconfig), missing:
        api_client("dev", str(kubeconfig))
    with pytest.raises(KubernetesError, match="no kube context found"):
        api_client("dev", str(tmp_path / "absent"))


def test_kube_context_override_names_another_cluster(tmp_path, monkeypatch):
    """PLATFORMCTL_KUBE_CONTEXT replaces the env's context (a test cluster); the check itself stays."""
    from tools.fake_kube import running_fake

    monkeypatch.setenv("PLATFORMCTL_KUBE_CONTEXT", "kind-someone-else")
    with running_fake(tmp_path, context="kind-someone-else") as (_, kubeconfig):
        assert api_client("dev", str(kubeconfig)) is not None
    monkeypatch.setenv("PLATFORMCTL_KUBE_CONTEXT", "k8s-harness")
    missing = pytest.raises(KubernetesError, match="'k8s-harness' for dev is missing")
    with running_fake(tmp_path, context="kind-someone-else") as (_, kubeconfig), missing:
        api_client("dev", str(kubeconfig))


def test_cli_sync_prints_table_without_values(vault_server, smap, fake_kube, monkeypatch, run_cli):
    _, kubeconfig = fake_kube
    monkeypatch.setenv("VAULT_ADDR", vault_server.addr)
    monkeypatch.setenv("VAULT_TOKEN", vault_server.token)
    from platformctl.app import vault_dev

    dev = connect("dev", environ={"VAULT_ADDR": vault_server.addr, "VAULT_TOKEN": vault_server.token})
    vault_dev.enable_kv(dev)
    vault_dev.seed(dev, smap)
    code, out, _ = run_cli("--env", "dev", "secrets", "sync", "--kubeconfig", str(kubeconfig))
    assert code == 0
    assert "users-db" in out and "vault version" in out
    for entry in dev.read_many(smap.vault).values():
        for value in entry.data.values():
            if len(value) > 20:
                assert value not in out


def test_cli_unknown_secret_is_usage_error(run_cli):
    code, _, err = run_cli("secrets", "sync", "--only", "nope")
    assert code == 2 and "unknown Secret 'nope'" in err


def test_kube_context_pointing_elsewhere_is_refused(tmp_path):
    import yaml

    from tools.fake_kube import running_fake

    with running_fake(tmp_path) as (_, kubeconfig):
        data = yaml.safe_load(kubeconfig.read_text())
        other = {"name": "kind-other", "context": {"cluster": "fake", "user": "fake"}}
        data["contexts"].append(other)
        data["current-context"] = "kind-other"
        kubeconfig.write_text(yaml.safe_dump(data))
        with pytest.raises(KubernetesError, match="current kube context 'kind-other' is not dev's"):
            api_client("dev", str(kubeconfig))

"""Vault authentication and error lines against a real OpenBao dev server."""

from __future__ import annotations

import contextlib
import json
import os
import stat

import hvac
import pytest
from platformctl.adapters.vault import connect
from platformctl.app import vault_dev
from platformctl.errors import VaultError

from tests.fixtures.servers import free_port


def _root(vault_server) -> hvac.Client:
    return hvac.Client(url=vault_server.addr, token=vault_server.token)


def _read_only_approle(vault_server, env: str) -> dict[str, str]:
    root = _root(vault_server)
    if "approle/" not in root.sys.list_auth_methods()["data"]:
        root.sys.enable_auth_method("approle")
    root.sys.create_or_update_policy(f"read-{env}", f'path "kv/data/{env}/*" {{ capabilities = ["read"] }}')
    root.auth.approle.create_or_update_approle(f"ci-{env}", token_policies=[f"read-{env}"])
    role_id = root.auth.approle.read_role_id(f"ci-{env}")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id(f"ci-{env}")["data"]["secret_id"]
    return {"VAULT_ADDR": vault_server.addr, "VAULT_ROLE_ID": role_id, "VAULT_SECRET_ID": secret_id}


def test_token_auth_reads(seeded, vault_server):
    vault = connect(seeded.env, environ={"VAULT_ADDR": vault_server.addr, "VAULT_TOKEN": vault_server.token})
    assert vault.method == "token"
    assert set(vault.read("postgresql").data) == {"postgres-password", "users-password"}


def test_approle_reads_but_cannot_write(seeded, vault_server):
    vault = connect(seeded.env, environ=_read_only_approle(vault_server, seeded.env))
    assert vault.method == "approle"
    assert vault.read("rabbitmq").data["username"] == "platform"
    with pytest.raises(VaultError, match=rf"denied update on kv/{seeded.env}/rabbitmq \(HTTP 403\)"):
        vault.write("rabbitmq", {"username": "x"})


def test_token_without_policy_is_denied(seeded, vault_server):
    token = _root(vault_server).auth.token.create(policies=["default"], ttl="5m")["auth"]["client_token"]
    vault = connect(seeded.env, environ={"VAULT_ADDR": vault_server.addr, "VAULT_TOKEN": token})
    with pytest.raises(VaultError, match="lacks a policy") as caught:
        vault.read("postgresql")
    assert token not in str(caught.value)


def test_invalid_token_is_rejected(vault_server):
    with pytest.raises(VaultError, match="rejected the credentials") as caught:
        connect("dev", environ={"VAULT_ADDR": vault_server.addr, "VAULT_TOKEN": "not-a-token-sentinel"})
    assert "sentinel" not in str(caught.value)


def test_unreachable_vault(tmp_path):
    addr = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(VaultError, match="unreachable; check VAULT_ADDR"):
        connect("dev", environ={"VAULT_ADDR": addr, "VAULT_TOKEN": "x"})
    with pytest.raises(VaultError, match="no Vault address"):
        connect("dev", environ={}, state=tmp_path / "none.json")


def test_vault_dev_lifecycle_seed_reuse_sealed_stop(tmp_path, smap):
    """`vault dev`: a second real OpenBao started by platformctl itself (so it may be sealed here)."""
    state = tmp_path / "vault-dev.json"
    data, seeded = vault_dev.up(state, smap)
    try:
        assert stat.S_IMODE(state.stat().st_mode) == 0o600
        assert json.loads(state.read_text())["pid"] == data["pid"]
        log = tmp_path / "vault-dev.log"  # the server's own log: private, and without the root token
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
        assert str(data["token"]) not in log.read_text() and "Unseal Key" not in log.read_text()
        assert seeded == sorted(smap.vault)
        vault = connect("dev", environ={}, state=state)
        keyset = json.loads(vault.read("auth-jwt").data["keyset"])
        assert keyset["active_kid"] == keyset["keys"][0]["kid"]
        again, seeded_again = vault_dev.up(state, smap)
        assert again["pid"] == data["pid"] and seeded_again == []
        vault.client.sys.seal()
        with pytest.raises(VaultError, match="is sealed; unseal it"):
            connect("dev", environ={}, state=state)
    finally:
        assert vault_dev.stop(state)
    assert not state.exists()
    with pytest.raises(ProcessLookupError):
        _wait_gone(int(data["pid"]))


def _wait_gone(pid: int) -> None:
    import time

    for _ in range(100):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        os.kill(pid, 0)
        time.sleep(0.1)


def test_kubernetes_auth_reads(seeded, vault_server, fake_kube, tmp_path):
    """Vault's Kubernetes auth method with the FakeKubeAPI answering its TokenReview."""
    import jwt as pyjwt

    api, _ = fake_kube
    port = fake_kube[1].read_text().split("127.0.0.1:")[1].split()[0].strip("'\"")
    root = _root(vault_server)
    mount = f"k8s-{seeded.env}"
    root.sys.enable_auth_method("kubernetes", path=mount)
    root.write(
        f"auth/{mount}/config",
        kubernetes_host=f"http://127.0.0.1:{port}",
        disable_local_ca_jwt=True,
        kubernetes_ca_cert=_throwaway_ca(),
    )
    policy = f'path "kv/data/{seeded.env}/*" {{ capabilities = ["read"] }}'
    root.sys.create_or_update_policy(f"k8s-{seeded.env}", policy)
    root.write(
        f"auth/{mount}/role/platformctl",
        bound_service_account_names=["platformctl"],
        bound_service_account_namespaces=["platform"],
        token_policies=[f"k8s-{seeded.env}"],
    )
    claims = {
        "iss": "kubernetes/serviceaccount",
        "sub": "system:serviceaccount:platform:platformctl",
        "kubernetes.io/serviceaccount/namespace": "platform",
        "kubernetes.io/serviceaccount/service-account.name": "platformctl",
        "kubernetes.io/serviceaccount/service-account.uid": "uid-platformctl",
    }
    from cryptography.hazmat.primitives.asymmetric import ec

    # Vault parses the JWT (asymmetric algorithms only) and leaves its validation to the TokenReview.
    token = pyjwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
    api.service_accounts[token] = ("platform", "platformctl")
    token_file = tmp_path / "sa-token"
    token_file.write_text(token)
    environ = {
        "VAULT_ADDR": vault_server.addr,
        "VAULT_K8S_ROLE": "platformctl",
        "VAULT_K8S_TOKEN_FILE": str(token_file),
        "VAULT_K8S_MOUNT": mount,
    }
    vault = connect(seeded.env, environ=environ)
    assert vault.method == "kubernetes"
    assert "users-password" in vault.read("postgresql").data
    api.service_accounts.clear()  # the cluster no longer vouches for the token
    with pytest.raises(VaultError, match="rejected the credentials"):
        connect(seeded.env, environ=environ)


def _throwaway_ca() -> str:
    """A self-signed certificate: the auth method insists on a CA even for the plain-HTTP fake."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-kube-ca")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()

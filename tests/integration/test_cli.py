"""The verbs end to end in-process: exit codes and one-line errors (real OpenBao, SeaweedFS, terraform)."""

from __future__ import annotations

import io
import shutil

import pytest
from platformctl.adapters import vault
from platformctl.adapters.vault import connect
from platformctl.app import deploy, doctor, vault_dev
from platformctl.config import secret_map
from platformctl.context import Context

from tests.fixtures.filesystems import remount_read_only, tmpfs
from tests.fixtures.servers import free_port
from tests.integration.test_values import FIXTURES


@pytest.fixture
def dev_vault(vault_server, smap, monkeypatch):
    """ENV=dev on the session's OpenBao, seeded; the CLI finds it through VAULT_ADDR/VAULT_TOKEN."""
    monkeypatch.setenv("VAULT_ADDR", vault_server.addr)
    monkeypatch.setenv("VAULT_TOKEN", vault_server.token)
    vault = connect("dev", environ={"VAULT_ADDR": vault_server.addr, "VAULT_TOKEN": vault_server.token})
    vault_dev.enable_kv(vault)
    vault_dev.seed(vault, smap)
    return vault


def test_vault_dev_start_and_stop(run_cli, tmp_path, monkeypatch):
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    state = tmp_path / "vault-dev.json"
    monkeypatch.setattr("platformctl.commands.vault.state_file", lambda: state)
    code, out, _ = run_cli("vault", "dev")
    seeded = next(line for line in out.splitlines() if line.startswith("seeded: "))
    assert code == 0 and "dev Vault at http://127.0.0.1:" in out
    assert set(seeded.removeprefix("seeded: ").split(", ")) == set(secret_map.load().vault)
    assert connect("dev", environ={}, state=state).read("minio").version == 1
    code, out, _ = run_cli("vault", "dev", "--dry-run")
    assert code == 0 and "would reuse the dev Vault at http://127.0.0.1:" in out  # it runs: no second one
    assert run_cli("vault", "dev", "--stop")[0] == 0 and not state.exists()
    assert "would start a dev Vault" in run_cli("vault", "dev", "--dry-run")[1]
    assert run_cli("--env", "prod", "vault", "dev")[0] == 2


def test_apply_reports_the_running_dev_vault_and_destroy_stops_it(tmp_path, monkeypatch, smap):
    """apply leaves the dev Vault running (dev's secrets live only there) and says so with the command that
    stops it; destroy's last step stops it."""
    state = tmp_path / "vault-dev.json"
    monkeypatch.setattr(vault, "state_file", lambda: state)
    ctx = Context(env="dev", out=io.StringIO(), err=io.StringIO())
    vault_dev.up(state, smap)
    try:
        deploy.report_dev_vault(ctx)
        said = ctx.out.getvalue()
        assert "dev Vault still running at http://127.0.0.1:" in said and "vault dev --stop" in said
        deploy.stop_dev_vault(ctx)
        assert "dev Vault stopped" in ctx.out.getvalue() and vault_dev.running(state) is None
    finally:
        vault_dev.stop(state)


def test_missing_tool_is_exit_3(run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("PLATFORMCTL_TOOLS_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    monkeypatch.setattr("platformctl.commands.vault.state_file", lambda: tmp_path / "s.json")
    code, _, err = run_cli("vault", "dev")
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 3 and len(errors) == 1 and "required tool 'bao' not found" in errors[0]


def test_vault_unreachable_is_exit_4(run_cli, monkeypatch):
    monkeypatch.setenv("VAULT_ADDR", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("VAULT_TOKEN", "x")
    code, _, err = run_cli("secrets", "sync")
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 4 and len(errors) == 1 and errors[0].startswith("error: Vault at")


def test_rotate_dry_run_changes_nothing(run_cli, dev_vault):
    before = dev_vault.read("auth-jwt").version
    code, out, _ = run_cli("rotate", "--secret", "auth-jwt", "--dry-run")
    assert code == 0 and "write it as a new KV version of kv/dev/auth-jwt" in out
    assert dev_vault.read("auth-jwt").version == before


def test_values_verb_writes_generated_files(run_cli, dev_vault, tmp_path, monkeypatch):
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES / "valuesroot", root)
    monkeypatch.setattr("platformctl.app.deploy.repo_root", lambda: root)
    args = ("values", "--releases", str(FIXTURES / "releases.json"))
    code, out, _ = run_cli(*args)
    assert code == 0 and "values/generated/dev/users.yaml" in out
    assert (root / "values/generated/dev/users.yaml").is_file()
    assert "yes" not in run_cli(*args)[1].split("changed", 1)[1]
    (root / "values/dev/users.yaml").write_text("replicaCount: 0\n")
    code, _, err = run_cli(*args)
    assert code == 3 and "values/dev/users.yaml: key `replicaCount`" in err


def test_values_into_a_read_only_file_system_is_exit_3_with_one_line(
    run_cli, dev_vault, tmp_path, monkeypatch
):
    """Before: "error: unexpected OSError: [Errno 30] Read-only file system: ..." and exit 1."""
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES / "valuesroot", root)
    monkeypatch.setattr("platformctl.app.deploy.repo_root", lambda: root)
    with tmpfs(root / "values" / "generated", "1m") as generated:
        remount_read_only(generated)
        code, _, err = run_cli("values", "--releases", str(FIXTURES / "releases.json"))
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    folder = generated / "dev"
    assert code == 3 and errors == [
        f"error: cannot write {folder / 'traefik.yaml'}: read-only file system; {folder} is on a file system "
        "mounted read-only; run from a writable checkout or remount it rw"
    ]


def test_storage_ensure_with_credentials_from_vault(run_cli, dev_vault, s3_server, monkeypatch):
    dev_vault.write("minio", {"root-user": s3_server.access_key, "root-password": s3_server.secret_key})
    code, out, _ = run_cli("storage", "ensure", "--endpoint", s3_server.endpoint, "--admin-api", "none")
    assert code == 0 and "notifications" in out and "Enabled" in out
    monkeypatch.delenv("PLATFORMCTL_S3_ENDPOINT", raising=False)
    code, _, err = run_cli("storage", "ensure")
    assert code == 2 and "no S3 endpoint" in err


def test_doctor_checks_vault_auth_and_kube_api(dev_vault, fake_kube, monkeypatch):
    assert doctor.vault_auth_check("dev").ok
    monkeypatch.setenv("VAULT_TOKEN", "invalid")
    check = doctor.vault_auth_check("dev")
    assert not check.ok and "rejected the credentials" in check.detail
    monkeypatch.setattr("platformctl.adapters.kube.kubeconfig", lambda env: str(fake_kube[1]))
    check = doctor.kube_api_check("dev")
    assert check.ok and "v1.20.2-fake" in check.detail

"""`platformctl doctor` answers "can I apply this ENV now?": every row ok, warn or FAIL with its fix.

The CLI runs in-process with the real tools, the real `docker` CLI against a missing socket and this
machine's real lack of a kube context; the Terraform registry is made unreachable through a proxy that
refuses every connection (what terraform itself would hit; tests/integration/test_terraform.py checks
that the providers row agrees with a real `terraform init`).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import yaml
from platformctl import cli
from platformctl.app import doctor
from platformctl.config import site
from platformctl.context import Context

from tests.fixtures.servers import free_port


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No kube context, no Docker daemon, no provider mirror, no registry; dev's Vault not configured."""
    for name in (
        site.ENV_VAR,
        "PLATFORMCTL_KUBE_CONTEXT",
        "VAULT_ADDR",
        "VAULT_TOKEN",
        "VAULT_ROLE_ID",
        "VAULT_SECRET_ID",
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # no ~/.terraformrc, ~/.terraform.d or ~/.kube/config
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "no-share"))  # no implied provider mirror
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/missing-docker.sock")
    empty = tmp_path / "empty.tfrc"
    empty.write_text("")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(empty))
    dead = f"http://127.0.0.1:{free_port()}"  # the registry only through a proxy that refuses
    monkeypatch.setenv("HTTPS_PROXY", dead)
    monkeypatch.setenv("https_proxy", dead)
    # no apply ran here
    monkeypatch.setattr("platformctl.adapters.kube.state_dir", lambda: tmp_path / "state")
    monkeypatch.setattr(
        "platformctl.adapters.vault.state_file", lambda: tmp_path / "state" / "vault-dev.json"
    )
    return tmp_path


def run_doctor(monkeypatch: pytest.MonkeyPatch, capsys, *argv: str) -> tuple[int, dict[str, list[str]], str]:
    """(exit code, check rows by name -> [status, detail], stderr)."""
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(cli, "Context", lambda: Context(out=out, err=err))
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    lines = (out.getvalue() + captured.out).splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"check\s+status\s+detail$", line))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        name, status, detail = re.split(r"\s{2,}", line, maxsplit=2)
        rows[name] = [status, detail]
    return code, rows, err.getvalue() + captured.err


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_dev_without_kube_context_docker_or_provider_registry(machine, monkeypatch, capsys):
    code, rows, err = run_doctor(monkeypatch, capsys, "--env", "dev", "doctor")
    assert code == 3, rows
    assert rows["tools"][0] == "ok"
    status, detail = rows["kube context"]
    assert status == "warn" and "created by apply" in detail and "kind-platform-dev" in detail
    assert rows["kube API"][0] != "FAIL"
    status, detail = rows["docker"]
    assert status == "FAIL" and "missing-docker.sock" in detail
    assert "fix: start Docker" in detail and "DOCKER_HOST" in detail
    status, detail = rows["terraform providers"]
    assert status == "FAIL" and "tehcyx/kind" in detail and "hashicorp/helm" in detail
    assert "fix: allow access to the Terraform registry or configure a provider mirror" in detail
    assert "terraform/README.md" in detail
    failed = [name for name, (status, _) in rows.items() if status == "FAIL"]
    assert failed == ["docker", "terraform providers"]
    assert all("fix: " in rows[name][1] for name in failed)
    errors = error_lines(err)
    assert len(errors) == 1 and "dev cannot be applied now" in errors[0]
    assert "docker" in errors[0] and "terraform providers" in errors[0] and "kube" not in errors[0]


def test_existing_cluster_site_without_kube_context_fails(machine, monkeypatch, capsys):
    monkeypatch.setenv(site.ENV_VAR, "tools/e2e/site.yaml")
    code, rows, err = run_doctor(monkeypatch, capsys, "--env", "dev", "doctor")
    assert code == 3
    assert rows["site"][0] == "ok" and "tools/e2e/site.yaml" in rows["site"][1]
    status, detail = rows["kube context"]
    assert status == "FAIL" and "k8s-harness" in detail and "fix: " in detail and "KUBECONFIG" in detail
    # existing cluster + helm installer: apply runs no Terraform stack that needs a provider
    status, detail = rows["terraform providers"]
    assert status == "ok" and "not needed" in detail
    assert rows["docker"][0] == "FAIL"  # delivery `docker`: apply builds into the nodes' daemon
    errors = error_lines(err)
    assert len(errors) == 1 and "kube context" in errors[0] and "docker" in errors[0]


def test_no_build_on_an_existing_cluster_needs_no_docker(machine, monkeypatch, capsys):
    monkeypatch.setenv(site.ENV_VAR, "tools/e2e/site.yaml")
    _, rows, err = run_doctor(monkeypatch, capsys, "--env", "dev", "doctor", "--no-build")
    status, detail = rows["docker"]
    assert status == "ok" and "not needed" in detail
    assert "docker" not in error_lines(err)[0]


def test_what_apply_needs_per_env_and_site():
    dev = doctor.needs("dev", site.Site())
    assert (dev.cluster, dev.stacks, dev.delivery) == ("kind", ("cluster", "platform"), "kind")
    assert dev.docker and "kind" in dev.docker
    assert doctor.needs("dev", site.Site(), build=False).docker  # kind nodes are Docker containers
    staging = doctor.needs("staging", site.Site())
    assert (staging.cluster, staging.stacks, staging.delivery) == ("eks", ("cluster", "platform"), "registry")
    assert staging.docker and doctor.needs("staging", site.Site(), build=False).docker is None
    harness = site.load({site.ENV_VAR: "tools/e2e/site.yaml"})
    e2e = doctor.needs("dev", harness)
    assert (e2e.cluster, e2e.stacks, e2e.delivery) == ("existing", (), "docker")
    assert e2e.docker and doctor.needs("dev", harness, build=False).docker is None


def test_stack_providers_come_from_the_stacks():
    providers = doctor.stack_providers(("cluster", "platform"))
    assert providers == {"cluster": ["hashicorp/aws", "tehcyx/kind"], "platform": ["hashicorp/helm"]}


def _kubeconfig(path: Path, contexts: list[str], current: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": c, "cluster": {"server": "https://127.0.0.1:1"}} for c in contexts],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": c, "context": {"cluster": c, "user": "u"}} for c in contexts],
                "current-context": current,
            }
        )
    )
    return path


def test_kube_context_rows(machine, monkeypatch):
    harness = site.load({site.ENV_VAR: "tools/e2e/site.yaml"})
    monkeypatch.setenv(site.ENV_VAR, "tools/e2e/site.yaml")
    config = _kubeconfig(machine / "kubeconfig", ["k8s-harness", "other"], "other")
    monkeypatch.setenv("KUBECONFIG", str(config))
    check = doctor.kube_check("dev", doctor.needs("dev", harness))
    assert check.status == "FAIL" and "kubectl config use-context k8s-harness" in check.fix
    _kubeconfig(config, ["k8s-harness"], "k8s-harness")
    check = doctor.kube_check("dev", doctor.needs("dev", harness))
    assert check.status == "ok" and "k8s-harness" in check.detail

    monkeypatch.delenv(site.ENV_VAR)
    _kubeconfig(config, ["kind-platform-dev"], "kind-platform-dev")
    check = doctor.kube_check("dev", doctor.needs("dev", site.Site()))
    assert check.status == "ok" and "kind-platform-dev" in check.detail


def test_docker_row_with_a_daemon(machine, monkeypatch):
    """A `docker` that answers `info` (a stand-in: this machine has no daemon) makes the row ok."""
    bin_dir = machine / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "docker"
    fake.write_text('#!/bin/sh\n[ "$1" = info ] && echo 27.5.1\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    check = doctor.docker_check(doctor.needs("dev", site.Site()))
    assert check.status == "ok" and "27.5.1" in check.detail
    monkeypatch.setenv("PATH", str(machine / "nothing"))
    check = doctor.docker_check(doctor.needs("dev", site.Site()))
    assert check.status == "FAIL" and "install Docker" in check.fix


def test_provider_mirrors_count_as_configured(machine, monkeypatch):
    stacks = {"cluster": ["hashicorp/aws", "tehcyx/kind"]}
    config = machine / "mirror.tfrc"
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(config))
    config.write_text(
        'provider_installation {\n  network_mirror {\n    url = "https://mirror.example/"\n  }\n}\n'
    )
    check = doctor.providers_check(stacks)
    assert check.status == "ok" and "network mirror" in check.detail

    mirror = machine / "mirror"
    (mirror / doctor.registry_host("hashicorp/aws") / "hashicorp" / "aws").mkdir(parents=True)
    config.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n')
    check = doctor.providers_check(stacks)
    assert check.status == "FAIL" and "tehcyx/kind" in check.detail and "hashicorp/aws" not in check.detail
    assert "mirror" in check.fix

    (mirror / doctor.registry_host("tehcyx/kind") / "tehcyx" / "kind").mkdir(parents=True)
    check = doctor.providers_check(stacks)
    assert check.status == "ok" and str(mirror) in check.detail


def test_registry_host_comes_from_the_provider_source():
    assert doctor.registry_host("tehcyx/kind") == "registry." + "terraform.io"
    assert doctor.registry_host("example.com/acme/thing") == "example.com"

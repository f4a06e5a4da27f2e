"""Leak test: sentinel secret values go through sync, values, plan and rotate (success and failure) and
must appear in no generated file, log record, output line, exception text or subprocess argv.

Real OpenBao, PostgreSQL and terraform; FakeKubeAPI stands in for the Kubernetes API only.
"""

from __future__ import annotations

import io
import logging
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
from kubernetes import config
from platformctl.adapters import pgrole
from platformctl.adapters.kube import KubeSecrets
from platformctl.app import flow, jwtkeys, release_plan, rotate, secrets_sync, values
from platformctl.config import environments, release
from platformctl.config.secret_map import RotationSpec
from platformctl.context import Context
from platformctl.errors import PlatformError

from tests.integration.test_values import FIXTURES, _images


@pytest.fixture
def argv_log(monkeypatch) -> list[str]:
    """Every argv any subprocess gets during the test."""
    seen: list[str] = []
    real_init = subprocess.Popen.__init__

    def recording_init(self, args, *rest, **kwargs):
        seen.extend(str(a) for a in (args if isinstance(args, list | tuple) else [args]))
        real_init(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", recording_init)
    return seen


def _sentinels(vault, smap) -> list[str]:
    """Write a sentinel into every declared Vault key; return the sentinels (and the key set's key bodies)."""
    found = []
    for component, keys in smap.vault.items():
        data = {}
        for key, generator in keys.items():
            if generator == "jwt-keyset":
                data[key] = jwtkeys.new_keyset()
                found += [k["private_key_pem"].splitlines()[1] for k in jwtkeys.parse(data[key])["keys"]]
            else:
                data[key] = f"SENTINEL{secrets.token_hex(8)}"
                found.append(data[key])
        vault.write(component, data)
    return found


def test_no_secret_value_leaks(
    root_vault,
    smap,
    fake_kube,
    postgres_dsn,
    pg_role,
    tmp_path,
    monkeypatch,
    argv_log,
    caplog,
):
    caplog.set_level(logging.DEBUG)
    sentinels = _sentinels(root_vault, smap)
    out = io.StringIO()
    ctx = Context(env="dev", out=out, err=out)
    texts: list[str] = []
    store = KubeSecrets(config.new_client_from_config(config_file=str(fake_kube[1])))

    results = secrets_sync.sync(root_vault, store, smap)
    out.write(str(secrets_sync.table_rows(results)))

    root = tmp_path / "repo"
    shutil.copytree(FIXTURES / "valuesroot", root)
    releases = release_plan.from_file(FIXTURES / "releases.json")
    entries = root_vault.read_many(values.needed_paths(smap, releases))
    values.run(releases, smap, entries, _images(), root)

    cli_config = tmp_path / "empty.tfrc"
    cli_config.write_text("")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(cli_config))
    shutil.copytree(FIXTURES / "tfflow", tmp_path / "terraform")
    flow.plan(ctx, flow.Layout(tmp_path / "terraform", tmp_path / "state"))

    spec = RotationSpec(path="postgresql", key="users-password", kind="postgres-role", role=pg_role)
    rotate.run(
        rotate.Plan("db", spec, rotate.steps_for(spec, smap, root_vault, store, postgres_dsn)),
        root_vault,
        out.write,
    )
    sentinels.append(root_vault.read("postgresql").data["users-password"])
    fake_kube[0].fail_apply = True
    with pytest.raises(PlatformError) as failed:
        rotate.run(
            rotate.Plan("db", spec, rotate.steps_for(spec, smap, root_vault, store, postgres_dsn)),
            root_vault,
            out.write,
        )
    texts.append(str(failed.value))
    bad = RotationSpec(path="postgresql", key="users-password", kind="postgres-role", role="no_such_role_x")
    with pytest.raises(PlatformError) as missing:
        rotate.run(
            rotate.Plan("db", bad, rotate.steps_for(bad, smap, root_vault, store, postgres_dsn)),
            root_vault,
            out.write,
        )
    texts.append(str(missing.value))
    assert pgrole.verifier(postgres_dsn, pg_role)  # the rotations really ran

    texts += [out.getvalue(), *(r.getMessage() for r in caplog.records), *argv_log]
    texts += [p.read_text() for p in root.rglob("*") if p.is_file()]
    texts += [p.read_text(errors="replace") for p in (tmp_path / "terraform").rglob("*") if p.is_file()]
    texts += [p.read_text(errors="replace") for p in (tmp_path / "state").rglob("*") if p.is_file()]
    assert any("terraform" in a for a in argv_log)  # the argv recorder saw the terraform runs
    leaked = [s for s in sentinels if any(s in text for text in texts)]
    assert leaked == []


# --- upstream releases: their values never hold a secret; Grafana's admin login comes from Vault ----------

REPO = Path(__file__).resolve().parents[2]
UPSTREAM = ("traefik", "kube-prometheus-stack", "metrics-server", "cert-manager")
ENVS = environments.names()


def _upstream_release(name: str, env: str) -> release.Release:
    files = (f"values/common/{name}.yaml", f"values/{env}/{name}.yaml", f"values/generated/{env}/{name}.yaml")
    return release.Release(name, "upstream", None, files)


@pytest.mark.parametrize("env", ENVS)
def test_upstream_values_hold_no_secret_value(root_vault, smap, tmp_path, env):
    """Sentinels in every Vault key; `values` writes the upstream releases' generated files; neither those
    nor the committed upstream values files contain a sentinel or set a password of their own."""
    sentinels = _sentinels(root_vault, smap)
    repo = tmp_path / "repo"
    for folder in ("common", env):
        (repo / "values" / folder).mkdir(parents=True)
        for name in UPSTREAM:
            shutil.copy(REPO / "values" / folder / f"{name}.yaml", repo / "values" / folder / f"{name}.yaml")
    releases = [_upstream_release(name, env) for name in UPSTREAM]
    values.run(releases, smap, root_vault.read_many(values.needed_paths(smap, releases)), _images(), repo)
    files = sorted(p for p in (repo / "values").rglob("*.yaml"))
    assert {p.name for p in files if "generated" in p.parts} == {f"{n}.yaml" for n in UPSTREAM}
    leaked = [(str(p.relative_to(repo)), s) for p in files for s in sentinels if s in p.read_text()]
    assert leaked == []
    kps = values.load_yaml(repo / "values/common/kube-prometheus-stack.yaml")
    for path in (
        f"values/{env}/kube-prometheus-stack.yaml",
        f"values/generated/{env}/kube-prometheus-stack.yaml",
    ):
        kps = values.merge(kps, values.load_yaml(repo / path))
    grafana = kps["grafana"]
    assert "adminPassword" not in grafana, f"{env}: grafana.adminPassword would render a Secret with a value"
    admin = grafana["admin"]
    secret = smap.secrets[admin["existingSecret"]]
    assert (secret.namespace, secret.consumers) == ("monitoring", ["kube-prometheus-stack"])
    assert {admin["userKey"], admin["passwordKey"]} <= set(secret.keys), f"{env}: grafana.admin keys {admin}"


def test_vault_dev_seeds_the_grafana_admin(seeded, smap):
    """`platformctl vault dev` seeds every `vault:` component, the Grafana admin among them."""
    spec = smap.secrets["grafana-admin"]
    data = seeded.read(spec.path).data
    assert data[spec.keys["admin-user"]] == "admin"
    assert len(data[spec.keys["admin-password"]]) >= 32

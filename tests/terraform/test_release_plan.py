"""release-plan with the real terraform: its own `terraform test` suite, and the JSON that Python reads.

The module needs no provider, so these runs use an empty CLI configuration and a temporary data dir
and state; nothing is written into the repository.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.terraform.tfkit import ENVS, REPO_ROOT, TERRAFORM_DIR, run_tf, terraform_env, versions

MODULE = TERRAFORM_DIR / "modules" / "release-plan"
ROOT = TERRAFORM_DIR / "stacks" / "release-plan"
FIXTURE_VALUES = "tests/terraform/fixtures/values"
CRD_RELEASES = ("prometheus-operator-crds", "traefik-crds")  # need values/common/<name>.yaml only


def read_plan(tmp_path: Path, env_name: str, values_dir: str = FIXTURE_VALUES) -> list[dict[str, Any]]:
    """The documented recipe (terraform/README.md): init with an outside state path, apply, output -json."""
    env = terraform_env(tmp_path)
    run_tf(["init", "-input=false", f"-backend-config=path={tmp_path / 'plan.tfstate'}"], ROOT, env)
    run_tf(
        ["apply", "-auto-approve", "-input=false", f"-var=env={env_name}", f"-var=values_dir={values_dir}"],
        ROOT,
        env,
    )
    out = run_tf(["output", "-json", "releases"], ROOT, env)
    return list(json.loads(out.stdout))


def test_terraform_test_suite_passes(tmp_path: Path) -> None:
    proc = run_tf(["test"], MODULE, terraform_env(tmp_path), check=False)
    assert proc.returncode == 0, (
        f"terraform test failed in terraform/modules/release-plan:\n{proc.stdout}{proc.stderr}"
    )
    assert "0 failed" in proc.stdout and " passed" in proc.stdout, proc.stdout


def test_output_json_is_ordered_and_complete(tmp_path: Path) -> None:
    releases = read_plan(tmp_path, "prod")
    waves = [r["wave"] for r in releases]
    assert waves == sorted(waves), f"releases not ordered by wave: {waves}"
    names = [r["name"] for r in releases]
    assert len(names) == len(set(names)) == 13, names
    # Issue 13: EKS has no metrics API of its own, so prod plans metrics-server for its HPAs.
    assert names[0] == "metrics-server", names
    keys = {"name", "namespace", "wave", "needs", "chart", "skip_crds", "crds_of", "values_files", "timeout"}
    for release in releases:
        assert set(release) == keys | {"autoscaling"}, f"{release['name']}: fields {sorted(release)}"
        chart = release["chart"]
        if release["crds_of"] is not None:  # a CRD release: the CRD chart pinned beside its consumer
            consumer = versions()["charts"][release["crds_of"]]
            pinned = {"repository": consumer["repository"], **consumer["crds"]}
        elif chart["path"] is None:
            pinned = versions()["charts"][release["name"]]
        if chart["path"] is None:
            assert (chart["repository"], chart["name"], chart["version"]) == (
                pinned["repository"],
                pinned["chart"],
                pinned["version"],
            )
        else:
            assert (REPO_ROOT / chart["path"]).parent == REPO_ROOT / "charts", chart["path"]


def test_missing_values_file_is_named(tmp_path: Path) -> None:
    env = terraform_env(tmp_path)
    run_tf(["init", "-input=false", f"-backend-config=path={tmp_path / 'plan.tfstate'}"], ROOT, env)
    proc = run_tf(
        [
            "plan",
            "-input=false",
            "-var=env=dev",
            "-var=values_dir=tests/terraform/fixtures/values-incomplete",
        ],
        ROOT,
        env,
        check=False,
    )
    assert proc.returncode != 0
    message = " ".join(proc.stderr.split())
    assert "Missing values file(s): tests/terraform/fixtures/values-incomplete/dev/users.yaml." in message


def test_unknown_env_has_clear_message(tmp_path: Path) -> None:
    env = terraform_env(tmp_path)
    run_tf(["init", "-input=false", f"-backend-config=path={tmp_path / 'plan.tfstate'}"], ROOT, env)
    proc = run_tf(["plan", "-input=false", "-var=env=qa"], ROOT, env, check=False)
    assert proc.returncode != 0
    assert "The env must be one of the environments of environments.yaml: dev, prod, staging." in " ".join(
        proc.stderr.split()
    )


def _real_values_missing() -> list[str]:
    """Values files the real values/ tree lacks for any env (the plan's preconditions would name them)."""
    names = {
        "cert-manager",
        "metrics-server",
        "kube-prometheus-stack",
        "traefik",
        "platform",
        "postgresql",
        "rabbitmq",
        "minio",
        "users",
        "auth",
        "notifications",
    }
    layers = {
        **{n: ("common", *ENVS) for n in names},
        **{n: ("common",) for n in CRD_RELEASES},
    }
    return [
        f"values/{layer}/{name}.yaml"
        for name, wanted in sorted(layers.items())
        for layer in wanted
        if not (REPO_ROOT / "values" / layer / f"{name}.yaml").is_file()
    ]


@pytest.mark.parametrize("env_name", ENVS)
def test_plan_against_real_values(tmp_path: Path, env_name: str) -> None:
    assert not _real_values_missing()
    releases = read_plan(tmp_path, env_name, values_dir="values")
    assert releases, f"empty release plan for {env_name}"


def _architecture_table() -> dict[str, dict[str, str]]:
    """Rows of the "Namespaces and releases" table in docs/architecture.md, keyed by release."""
    text = (REPO_ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Namespaces and releases", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[3].isdigit():
            rows[cells[0]] = dict(zip(("chart", "namespace", "wave", "needs"), cells[1:], strict=True))
    return rows


def test_plan_matches_architecture_contract(tmp_path: Path) -> None:
    table = _architecture_table()
    planned = {r["name"]: r for r in read_plan(tmp_path, "prod") + read_plan(tmp_path / "dev", "dev")}
    assert set(planned) == set(table), (
        f"releases differ from docs/architecture.md: {set(planned) ^ set(table)}"
    )
    for name, row in table.items():
        release = planned[name]
        where_ = f"release {name} vs docs/architecture.md"
        assert (release["namespace"], release["wave"]) == (row["namespace"], int(row["wave"])), where_
        if row["chart"].startswith("charts/"):
            assert release["chart"]["path"] == row["chart"], where_
        else:
            assert row["chart"].startswith("upstream") and release["chart"]["path"] is None, where_
        listed = [n.strip() for n in row["needs"].split(",") if n.strip() in table]
        assert all(n in release["needs"] for n in listed), (
            f"{where_}: needs {listed}, plan {release['needs']}"
        )

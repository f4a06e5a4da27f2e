"""The users' CI workflow (.github/workflows/ci.yml): lint/test job running `make test`, e2e job on kind,
actions pinned by full version tag, every version read from versions.yaml (never repeated)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


@pytest.fixture(scope="module")
def workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def steps(workflow, job):
    return workflow["jobs"][job]["steps"]


def runs(workflow, job):
    return "\n".join(step.get("run", "") for step in steps(workflow, job))


def _versions(node, found):
    """Every pinned value of versions.yaml (versions, minimums, tags, node image)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("version", "minimum", "package_version", "tag", "kind_node_image"):
                found.add(str(value))
            elif key in ("terraform_providers", "validate"):
                found.update(map(str, value.values() if isinstance(value, dict) else value))
            else:
                _versions(value, found)
    return found


def test_workflow_is_yamllint_clean():
    result = subprocess.run(
        [str(REPO / ".venv/bin/yamllint"), "--strict", "-c", str(REPO / ".yamllint"), str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_every_action_is_pinned_by_a_full_version_tag(workflow):
    uses = [s["uses"] for job in workflow["jobs"] for s in steps(workflow, job) if "uses" in s]
    assert uses
    loose = [u for u in uses if not re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+\.\d+\.\d+", u)]
    assert not loose, f"pin these by a full version tag: {loose}"


def test_no_version_of_versions_yaml_is_repeated():
    pins = _versions(yaml.safe_load((REPO / "versions.yaml").read_text()), set())
    node_image = yaml.safe_load((REPO / "versions.yaml").read_text())["kubernetes"]["kind_node_image"]
    assert "1.32.3" in pins and node_image in pins  # the walk finds nested pins
    assert node_image.startswith("kindest/node:v1.33.1@sha256:")  # pinned by tag and digest
    text = WORKFLOW.read_text()
    repeated = sorted(p for p in pins if re.search(rf"(?<![\w.]){re.escape(p)}(?![\w.])", text))
    assert not repeated, f"read these from versions.yaml instead: {repeated}"
    assert "latest" not in text


def test_pins_step_reads_versions_yaml_and_feeds_every_reference(workflow, tmp_path):
    step = next(s for s in steps(workflow, "test") if s.get("id") == "pins")
    out = tmp_path / "github_output"
    subprocess.run(
        ["bash", "-euo", "pipefail", "-c", step["run"]],
        cwd=REPO,
        check=True,
        env={"GITHUB_OUTPUT": str(out), "PATH": "/usr/bin:/bin"},
    )
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines())
    versions = yaml.safe_load((REPO / "versions.yaml").read_text())
    assert outputs["kubectl"] == versions["tools"]["kubectl"]["version"]
    assert outputs["terraform"] == versions["tools"]["terraform"]["minimum"]
    assert outputs["node_image"] == versions["kubernetes"]["kind_node_image"]
    used = set(re.findall(r"(?:steps\.pins|needs\.test)\.outputs\.(\w+)", WORKFLOW.read_text()))
    assert used and used <= set(outputs), f"referenced but not produced: {used - set(outputs)}"
    passed_on = set(re.findall(r"needs\.test\.outputs\.(\w+)", WORKFLOW.read_text()))
    assert passed_on <= set(workflow["jobs"]["test"]["outputs"]), "e2e reads an output test does not set"


def test_test_job_runs_make_test_and_uploads_junit(workflow):
    assert re.search(r"(^|\s)make test$", runs(workflow, "test"), re.M)
    upload = [s for s in steps(workflow, "test") if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload and upload[0]["with"]["path"].rstrip("/") == "reports/junit"
    assert upload[0]["if"] == "always()"


def test_e2e_job_applies_dev_then_smoke_tests_with_junit(workflow):
    job = workflow["jobs"]["e2e"]
    assert job["needs"] == "test"
    text = runs(workflow, "e2e")
    # apply creates the cluster and delivers the images itself: no step does either on its own
    assert "backend_override" not in text and "docker build" not in text and "ctr" not in text
    apply = text.index("make apply ENV=dev")
    smoke = re.search(r"platformctl smoke --env dev --junit (reports/junit/\S+)", text)
    assert smoke and smoke.start() > apply
    upload = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload and upload[0]["if"] == "always()" and "reports/junit" in upload[0]["with"]["path"]


def test_run_scripts_are_valid_bash_and_use_no_secret(workflow):
    assert "secrets." not in WORKFLOW.read_text()
    assert workflow["permissions"] == {"contents": "read"}
    for job in workflow["jobs"]:
        assert workflow["jobs"][job]["timeout-minutes"] > 0
        for step in steps(workflow, job):
            if "run" in step:
                script = EXPRESSION.sub("placeholder", step["run"])
                result = subprocess.run(
                    ["bash", "-n"], input=script, capture_output=True, text=True, check=False
                )
                assert result.returncode == 0, f"{step.get('name')}: {result.stderr}"

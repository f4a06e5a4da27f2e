"""checkov and trivy (both real, offline) on terraform/: every finding must be accepted with a reason.

checkov without a platform key reports no severities, so each of its failed checks must be listed in
terraform/accepted-findings.yaml; trivy runs with its built-in checks only (--skip-check-update), over
the whole tree with default inputs and over stacks/cluster with each environment's tfvars.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from platformctl.adapters.tools import ToolNotFound, find_tool

from tests.terraform.tfkit import REPO_ROOT, TERRAFORM_DIR, where

ACCEPTED = TERRAFORM_DIR / "accepted-findings.yaml"
# platformctl runs the dev stacks from terraform/.dev/<stack>/ (symlinks to the stacks' files plus a
# generated backend override); scanning them again would report every finding twice under other paths.
# checkov skips dot-directories by itself; the regex keeps that explicit. trivy needs --skip-dirs.
CHECKOV_SKIP = ["--skip-path", r"(^|/)\.(dev|terraform)/"]
TRIVY_SKIP = ["--skip-dirs", "**/.dev", "--skip-dirs", "**/.terraform"]


@dataclass(frozen=True)
class Finding:
    tool: str
    id: str
    file: str
    resource: str
    severity: str
    title: str

    def __str__(self) -> str:
        return f"{self.tool} {self.id} [{self.severity}] {self.file} {self.resource}: {self.title}"


def accepted() -> dict[str, list[dict[str, Any]]]:
    data = yaml.safe_load(ACCEPTED.read_text()) or {}
    for tool in ("checkov", "trivy"):
        for entry in data.get(tool) or []:
            assert entry.get("id") and entry.get("file"), f"{where(ACCEPTED)}: {tool} entry without id/file"
            assert str(entry.get("reason", "")).strip(), (
                f"{where(ACCEPTED)}: {tool} {entry['id']} has no reason"
            )
    return {tool: list(data.get(tool) or []) for tool in ("checkov", "trivy")}


def _matches(entry: dict[str, Any], finding: Finding) -> bool:
    return (entry["id"], entry["file"]) == (finding.id, finding.file) and entry.get("resource") in (
        None,
        finding.resource,
    )


def _tool(name: str) -> str:
    try:
        return str(find_tool(name))
    except ToolNotFound as exc:
        pytest.fail(f"{exc} (run `make setup`)")


def run_checkov(tmp_path: Path, target: str = "terraform", cwd: Path = REPO_ROOT) -> list[Finding]:
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "HOME": str(tmp_path)}
    cmd = [
        _tool("checkov"),
        "-d",
        target,
        "--framework",
        "terraform",
        "--skip-download",
        "--quiet",
        "--compact",
        "--soft-fail",
        *CHECKOV_SKIP,
        "-o",
        "json",
    ]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, f"checkov failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    reports = json.loads(proc.stdout)
    findings = []
    for report in reports if isinstance(reports, list) else [reports]:
        for check in report.get("results", {}).get("failed_checks", []):
            file = f"{target}/" + check["file_path"].lstrip("/")
            findings.append(
                Finding(
                    "checkov",
                    check["check_id"],
                    file,
                    check["resource"],
                    str(check.get("severity")),
                    check["check_name"],
                )
            )
    return findings


def run_trivy(tmp_path: Path, target: Path, tfvars: Path | None = None) -> list[Finding]:
    cmd = [
        _tool("trivy"),
        "config",
        "--skip-check-update",
        "--cache-dir",
        str(tmp_path / "trivy-cache"),
        "--misconfig-scanners",
        "terraform",
        "--format",
        "json",
        "--quiet",
        *TRIVY_SKIP,
    ]
    if tfvars is not None:
        cmd += ["--tf-vars", str(tfvars)]
    proc = subprocess.run([*cmd, str(target)], capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, f"trivy failed on {where(target)}:\n{proc.stderr[-2000:]}"
    findings = []
    for result in json.loads(proc.stdout).get("Results") or []:
        file = where(target / result["Target"])
        for item in result.get("Misconfigurations") or []:
            resource = item.get("CauseMetadata", {}).get("Resource", "")
            findings.append(Finding("trivy", item["ID"], file, resource, item["Severity"], item["Title"]))
    return findings


def _check(findings: list[Finding], entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fail on unaccepted findings; return the entries that matched something."""
    unaccepted = [f for f in findings if not any(_matches(e, f) for e in entries)]
    assert not unaccepted, "findings not in terraform/accepted-findings.yaml:\n" + "\n".join(
        map(str, unaccepted)
    )
    return [e for e in entries if any(_matches(e, f) for f in findings)]


def test_checkov(tmp_path: Path) -> None:
    entries = accepted()["checkov"]
    used = _check(run_checkov(tmp_path), entries)
    stale = [e["id"] for e in entries if e not in used]
    assert not stale, f"{where(ACCEPTED)}: checkov entries that match no finding any more: {stale}"


def test_trivy(tmp_path: Path) -> None:
    entries = accepted()["trivy"]
    findings = run_trivy(tmp_path, TERRAFORM_DIR)
    for env in ("staging", "prod"):
        stack = TERRAFORM_DIR / "stacks" / "cluster"
        findings += run_trivy(tmp_path, stack, TERRAFORM_DIR / "envs" / env / "cluster.tfvars")
    used = _check(findings, entries)
    stale = [e["id"] for e in entries if e not in used]
    assert not stale, f"{where(ACCEPTED)}: trivy entries that match no finding any more: {stale}"


def test_scanners_see_an_insecure_cluster(tmp_path: Path) -> None:
    """Negative control: an EKS API open to 0.0.0.0/0 must be reported by both scanners."""
    fixture = "tests/terraform/fixtures/insecure"
    trivy = {f.id for f in run_trivy(tmp_path, REPO_ROOT / fixture) if f.severity in {"HIGH", "CRITICAL"}}
    assert {"AWS-0040", "AWS-0041"} <= trivy, f"trivy missed the open EKS endpoint: {sorted(trivy)}"
    checkov = {f.id for f in run_checkov(tmp_path, fixture)}
    assert {"CKV_AWS_38", "CKV_AWS_39"} <= checkov, f"checkov missed the open EKS endpoint: {sorted(checkov)}"


def test_scanners_skip_the_dev_working_dirs(tmp_path: Path) -> None:
    """An insecure file under terraform/.dev/ is not reported; the same file elsewhere is (control)."""
    tree = tmp_path / "tree"
    insecure = REPO_ROOT / "tests" / "terraform" / "fixtures" / "insecure" / "main.tf"
    for folder in ("terraform/.dev/cluster", "terraform/.dev/cluster/.terraform/x", "terraform/stacks/x"):
        (tree / folder).mkdir(parents=True)
        (tree / folder / "main.tf").write_text(insecure.read_text())
    checkov = {f.file for f in run_checkov(tmp_path, "terraform", cwd=tree)}
    assert checkov == {"terraform/stacks/x/main.tf"}, checkov
    trivy = {f.file for f in run_trivy(tmp_path, tree / "terraform")}
    assert trivy == {str(tree / "terraform" / "stacks" / "x" / "main.tf")}, trivy

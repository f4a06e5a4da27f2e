"""checkov and trivy over all rendered manifests (one run each): no unaccepted finding."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from platformctl.adapters.tools import find_tool
from platformctl.app import images

from tools.charts import render

ACCEPTED = render.CHARTS / "accepted-findings.yaml"
BLOCKING_TRIVY = {"HIGH", "CRITICAL"}

Finding = tuple[str, str, str]  # tool, check id, release


def _release_of(path: str) -> str:
    """Manifests are written as <release>__<env>.yaml."""
    return Path(path).name.split("__")[0]


def _run(args: list[str]) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, check=False, timeout=280)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise AssertionError(f"{args[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def _checkov(manifests: Path) -> set[Finding]:
    out = _run(
        [
            str(find_tool("checkov")),
            "-d",
            str(manifests),
            "--framework",
            "kubernetes",
            "-o",
            "json",
            "--quiet",
            "--skip-download",
        ]
    )
    reports = json.loads(out)
    reports = reports if isinstance(reports, list) else [reports]
    return {
        ("checkov", f["check_id"], _release_of(f["file_path"]))
        for rep in reports
        for f in rep["results"]["failed_checks"]
    }


def _trivy(manifests: Path, cache: Path) -> set[Finding]:
    out = _run(
        [
            str(find_tool("trivy")),
            "config",
            "--skip-check-update",
            "--cache-dir",
            str(cache),
            "-q",
            "-f",
            "json",
            str(manifests),
        ]
    )
    return {
        ("trivy", m["ID"], _release_of(r["Target"]))
        for r in json.loads(out).get("Results", [])
        for m in r.get("Misconfigurations") or []
        if m["Severity"] in BLOCKING_TRIVY
    }


@pytest.fixture(scope="module")
def findings(rendered, tmp_path_factory) -> set[Finding]:
    manifests = tmp_path_factory.mktemp("manifests")
    for (rel, env), docs in rendered.items():
        (manifests / f"{rel}__{env}.yaml").write_text(yaml.safe_dump_all(docs))
    cache = tmp_path_factory.mktemp("trivy-cache")
    with ThreadPoolExecutor(max_workers=2) as pool:
        checkov = pool.submit(_checkov, manifests)
        trivy = pool.submit(_trivy, manifests, cache)
        return checkov.result() | trivy.result()


def accepted() -> set[Finding]:
    entries = yaml.safe_load(ACCEPTED.read_text())["accepted"]
    for entry in entries:
        assert len(entry.get("reason", "").split()) >= 5, f"{entry['id']}: give a reason"
    return {(e["tool"], e["id"], rel) for e in entries for rel in e["releases"]}


def test_digest_acceptance_is_only_for_images_without_a_digest():
    """CKV_K8S_43 (image not pinned by digest) is accepted exactly for the releases whose image is built
    here or has no digest in versions.yaml (which then says why in `digest_note`)."""
    entry = next(e for e in yaml.safe_load(ACCEPTED.read_text())["accepted"] if e["id"] == "CKV_K8S_43")
    pins = render.versions()["images"]
    expected = set()
    for rel in render.RELEASES:
        if rel.image is None:
            continue
        pin = pins[rel.image]
        built_here = images.is_own_image(render.REPO / "services", rel.image)
        if built_here or not pin.get("digest"):
            expected.add(rel.name)
    assert set(entry["releases"]) == expected


def test_no_unaccepted_findings(findings):
    unexpected = sorted(findings - accepted())
    assert not unexpected, "\n".join(map(str, unexpected))


def test_no_stale_acceptances(findings):
    stale = sorted(accepted() - findings)
    assert not stale, f"accepted but no longer found (remove): {stale}"


def test_scanners_detect_a_bad_manifest(tmp_path):
    """The scanners really run their checks: a privileged root pod is flagged by both."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad", "namespace": "apps"},
        "spec": {
            "containers": [{"name": "c", "image": "busybox:1.36", "securityContext": {"privileged": True}}]
        },
    }
    (tmp_path / "bad__dev.yaml").write_text(yaml.safe_dump(pod))
    assert ("checkov", "CKV_K8S_16", "bad") in _checkov(tmp_path)
    assert any(tool == "trivy" for tool, _, _ in _trivy(tmp_path, tmp_path / "cache"))

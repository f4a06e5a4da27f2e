"""The platform chart's alerts, taken from the rendered PrometheusRule, pass promtool check and unit tests."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from platformctl.adapters.tools import find_tool

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def rules_dir(rendered, tmp_path_factory) -> Path:
    rule = next(o for o in rendered[("platform", "prod")] if o["kind"] == "PrometheusRule")
    out = tmp_path_factory.mktemp("promtool")
    (out / "rules.yaml").write_text(yaml.safe_dump(rule["spec"]))
    shutil.copy(HERE / "promtool" / "alerts_test.yaml", out / "alerts_test.yaml")
    return out


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(find_tool("promtool")), *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


def test_check_rules(rules_dir):
    proc = _promtool("check", "rules", "rules.yaml", cwd=rules_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unit_tests_pass(rules_dir):
    proc = _promtool("test", "rules", "alerts_test.yaml", cwd=rules_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_alert_has_a_firing_test(rules_dir):
    rules = yaml.safe_load((rules_dir / "rules.yaml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((rules_dir / "alerts_test.yaml").read_text())["tests"]
    fired = {t["alertname"] for case in tests for t in case["alert_rule_test"] if t["exp_alerts"]}
    assert alerts == fired
    expected = {
        "ServiceDown",
        "ServiceHigh5xxRatio",
        "ServiceHighP99Latency",
        "QueueBacklog",
        "DeadLetteredMessages",
        "MinioDriveOffline",
        "PersistentVolumeAlmostFull",
        "PodCrashLooping",
        "LoginAttemptsLimited",
        "LoginEventsDelayed",
        "LoginEventOutboxNearlyFull",
        "LoginsRefusedOutboxFull",
        "BackupTooOld",
    }
    assert alerts == expected


def test_broken_expectation_fails(rules_dir, tmp_path):
    """promtool really evaluates: a wrong expected label makes the unit test fail."""
    shutil.copy(rules_dir / "rules.yaml", tmp_path / "rules.yaml")
    text = (rules_dir / "alerts_test.yaml").read_text().replace("job: users, instance", "job: auth, instance")
    (tmp_path / "alerts_test.yaml").write_text(text)
    assert _promtool("test", "rules", "alerts_test.yaml", cwd=tmp_path).returncode != 0


def test_dashboard_queries_are_valid_promql(rendered, tmp_path):
    """Every panel query parses: promtool checks them as recording rules (Grafana variables replaced)."""
    maps = [o for o in rendered[("platform", "prod")] if o["kind"] == "ConfigMap"]
    assert {m["metadata"]["name"] for m in maps} == {
        "dashboard-services",
        "dashboard-rabbitmq",
        "dashboard-minio",
        "dashboard-postgresql",
    }
    rules = []
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        for body in cm["data"].values():
            for panel in json.loads(body)["panels"]:
                for target in panel["targets"]:
                    expr = target["expr"].replace("$service", ".*")
                    rules.append({"record": f"dashboard:{len(rules)}", "expr": expr})
    (tmp_path / "dash.yaml").write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    proc = _promtool("check", "rules", "dash.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr

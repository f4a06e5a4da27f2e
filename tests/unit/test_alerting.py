"""The alerting model without the charts: the reader of kube-prometheus-stack's rule templates, Helm's
merge of values over chart defaults, which default alerts the values leave on, and the routing intent.

The rule template below is written for this test in the shape of kube-prometheus-stack 79.5.0's
templates/prometheus/rules-1.14/*.yaml (file-level `if and`, per-alert `defaultRules.disabled`, severity
through `dig ... .Values.customRules`, labels through additionalRuleLabels/additionalRuleGroupLabels).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from platformctl.app import alert_facts, alerting, toolchain
from platformctl.config import versions
from platformctl.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

TEMPLATE = """\
{{- $kubeTargetVersion := default .Capabilities.KubeVersion.GitVersion .Values.kubeTargetVersionOverride }}
{{- if and (semverCompare ">=1.14.0-0" $kubeTargetVersion) .Values.defaultRules.create .Values.demo.enabled }}
spec:
  groups:
  - name: demo.rules
    rules:
{{- if not (.Values.defaultRules.disabled.DemoDown | default false) }}
    - alert: DemoDown
      annotations:
{{- if .Values.defaultRules.additionalRuleAnnotations }}
{{ toYaml .Values.defaultRules.additionalRuleAnnotations | indent 8 }}
{{- end }}
        summary: demo is down
      expr: up{job="demo"} == 0
      labels:
        severity: {{ dig "DemoDown" "severity" "critical" .Values.customRules }}
{{- if or .Values.defaultRules.additionalRuleLabels .Values.defaultRules.additionalRuleGroupLabels.demo }}
        {{- with .Values.defaultRules.additionalRuleLabels }}
          {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with .Values.defaultRules.additionalRuleGroupLabels.demo }}
          {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
{{- end }}
{{- if .Values.demo.slowAlerts }}
{{- if not (.Values.defaultRules.disabled.DemoSlow | default false) }}
    - alert: DemoSlow
      expr: demo_latency_seconds > {{ .Values.demo.threshold }}
      labels:
        long: 1h
        severity: {{ dig "DemoSlow" "severity" "warning" .Values.customRules }}
      {{- with .Values.defaultRules.additionalRuleGroupLabels.demo }}
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
{{- end }}
{{- end }}
"""


def test_reader_finds_each_alert_with_its_switches_severity_and_labels():
    alerts = alert_facts.parse_rules(TEMPLATE, "demo.yaml")
    assert alerts == [
        alert_facts.DefaultAlert(
            "DemoDown", "critical", "demo", "demo.rules", ("defaultRules.create", "demo.enabled")
        ),
        alert_facts.DefaultAlert(
            "DemoSlow",
            "warning",
            "demo",
            "demo.rules",
            ("defaultRules.create", "demo.enabled", "demo.slowAlerts"),
            (("long", "1h"),),
        ),
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("{{- if .Values.demo.slowAlerts }}", '{{- if eq .Values.demo.mode "slow" }}'),
            "cannot model the condition",
        ),
        (
            ("{{- if .Values.demo.slowAlerts }}", "{{- with .Values.demo.slowAlerts }}"),
            "alert DemoSlow inside `with`",
        ),
        (
            ("{{- end }}\n{{- end }}\n{{- end }}\n", "{{- else }}\n{{- end }}\n{{- end }}\n{{- end }}\n"),
            "`else`",
        ),
        (
            ('dig "DemoSlow" "severity" "warning"', 'dig "DemoSlowX" "severity" "warning"'),
            "severity of DemoSlowX",
        ),
        (("disabled.DemoDown |", "disabled.Other |"), "switched by defaultRules.disabled.Other"),
    ],
)
def test_reader_stops_at_what_it_cannot_model(change, message):
    old, new = change
    assert old in TEMPLATE
    with pytest.raises(ConfigError, match=message):
        alert_facts.parse_rules(TEMPLATE.replace(old, new, 1), "demo.yaml")


def test_facts_file_round_trips(tmp_path):
    alerts = alert_facts.parse_rules(TEMPLATE, "demo.yaml")
    facts = {
        "chart": "kube-prometheus-stack",
        "read_at": "1.2.3",
        "defaults": {"a": {"b": True}},
        "alerts": alerts,
    }
    path = tmp_path / "facts.yaml"
    path.write_text(alert_facts.dump(facts))
    assert alert_facts.load(path) == facts


def _facts(**defaults: object) -> dict[str, object]:
    return {
        "read_at": "1.2.3",
        "defaults": defaults,
        "alerts": alert_facts.parse_rules(TEMPLATE, "demo.yaml"),
    }


def test_default_alerts_follow_switches_disabled_custom_severity_and_labels():
    facts = _facts()
    values = {"defaultRules": {"create": True}, "demo": {"enabled": True, "slowAlerts": False}}
    assert [a.name for a in alerting.default_alerts(values, facts)] == ["DemoDown"]
    values = {
        "defaultRules": {
            "create": True,
            "disabled": {"DemoDown": True},
            "additionalRuleLabels": {"team": "platform"},
            "additionalRuleGroupLabels": {"demo": {"tier": "infra"}},
        },
        "demo": {"enabled": True, "slowAlerts": True},
        "customRules": {"DemoSlow": {"severity": "critical"}},
    }
    (slow,) = alerting.default_alerts(values, facts)
    assert (slow.name, slow.source) == ("DemoSlow", "kube-prometheus-stack/demo.rules")
    assert dict(slow.labels) == {"long": "1h", "severity": "critical", "team": "platform", "tier": "infra"}
    values["defaultRules"]["create"] = False
    assert alerting.default_alerts(values, facts) == []


def test_values_coalesce_over_chart_defaults_as_helm_does():
    defaults = {
        "config": {"route": {"receiver": "a", "group_by": ["x"]}, "receivers": [{"name": "a"}]},
        "keep": 1,
    }
    user = {"config": {"route": {"receiver": "b"}, "receivers": [{"name": "b"}]}, "keep": None}
    assert alerting.coalesce(defaults, user) == {
        "config": {"route": {"receiver": "b", "group_by": ["x"]}, "receivers": [{"name": "b"}]}
    }


@pytest.mark.parametrize(
    "alertmanager",
    [
        {"enabled": False, "config": {}},
        {"enabled": True, "tplConfig": True, "config": {}},
        {"enabled": True, "config": {}, "alertmanagerSpec": {"useExistingSecret": True}},
        {"enabled": True, "config": {}, "alertmanagerSpec": {"configSecret": "mine"}},
    ],
)
def test_config_outside_alertmanager_config_is_refused(alertmanager):
    with pytest.raises(ConfigError, match="kube-prometheus-stack"):
        alerting.alertmanager_config({"alertmanager": alertmanager})


def test_policy_must_name_every_team_for_every_severity_and_env(tmp_path):
    text = (REPO / alerting.POLICY_FILE).read_text()
    root = tmp_path
    (root / "values").mkdir()
    (root / alerting.POLICY_FILE).write_text(
        text.replace(
            "warning: {backend: backend-chat, platform: platform-chat}", "warning: {backend: backend-chat}"
        )
    )
    with pytest.raises(ConfigError, match=r"envs\.staging\.warning names teams \['backend'\]"):
        alerting.load_policy(root)


def test_policy_routes_quiet_unowned_and_refuses_unknown_severities():
    policy = alerting.load_policy(REPO)
    watchdog = alerting.Alert("Watchdog", "x", (("severity", "none"), ("team", "platform")))
    assert policy.receiver("prod", watchdog) == policy.quiet_receiver
    unowned = alerting.Alert("New", "x", (("severity", "critical"),))
    assert policy.receiver("prod", unowned) == policy.envs["prod"]["critical"][policy.unowned_team]
    with pytest.raises(ConfigError, match="severity 'page'"):
        policy.receiver("prod", alerting.Alert("New", "x", (("severity", "page"), ("team", "backend"))))


def test_rule_problems_name_missing_team_and_bad_severity():
    policy = alerting.load_policy(REPO)
    alerts = [
        alerting.Alert("NoTeam", "platform/r", (("severity", "warning"),)),
        alerting.Alert("Loud", "platform/r", (("severity", "page"), ("team", "backend"))),
        alerting.Alert("Fine", "platform/r", (("severity", "info"), ("team", "platform"))),
    ]
    problems = alerting.rule_problems(alerts, policy)
    assert len(problems) == 2
    assert problems[0].startswith("NoTeam (platform/r): team ''")
    assert problems[1].startswith("Loud (platform/r): severity 'page'")


def test_doc_section_needs_its_markers():
    with pytest.raises(ConfigError, match="lacks the markers"):
        alerting.replace_section("# Alerting\n", "table")
    text = f"intro\n{alerting.START}\nold\n{alerting.END}\noutro\n"
    assert alerting.replace_section(text, f"{alerting.START}\nnew\n{alerting.END}\n") == (
        f"intro\n{alerting.START}\nnew\n{alerting.END}\n\noutro\n"
    )


def test_amtool_is_installed_at_the_pinned_minimum():
    tool = versions.load().tools["amtool"]
    assert (tool.source, tool.package) == ("apt", "prometheus-alertmanager")
    found = toolchain.status("amtool", tool)
    assert found.ok, f"amtool {found.version} at {found.path}; `make setup` installs {tool.required}"

r"""values/upstream-alerting.yaml: what kube-prometheus-stack adds to alerting, read from the chart's source.

The chart is not vendored here, yet two of its facts decide where alerts go: the Alertmanager configuration
it renders (its default `alertmanager.config` with our values files merged over it, `toYaml` into the
Secret `alertmanager-<name>`: templates/alertmanager/secret.yaml) and the alerts of its default
PrometheusRules (templates/prometheus/rules-1.14/*.yaml), each switched on by values keys. This module
reads both once from a checkout of the chart at the pinned version and writes them to
values/upstream-alerting.yaml, which platformctl.app.alerting and tests/charts/test_alerting.py read;
the test fails when versions.yaml pins another chart version than the facts were read at.

    git -C <prometheus-community/helm-charts clone> archive kube-prometheus-stack-<version> \
        charts/kube-prometheus-stack | tar -x -C <dir>
    .venv/bin/python -m platformctl.app.alert_facts --chart-dir <dir>/charts/kube-prometheus-stack
    .venv/bin/python -m platformctl.app.alerting --write    # the routing table of docs/alerting.md

The rule templates are read line by line: every `- alert:` must sit inside `if` blocks whose conditions
are `.Values` paths (all of which must be true), the chart's kube-version checks, or the per-alert
`defaultRules.disabled.<alert>` switch, and must take its severity from `dig "<alert>" "severity" ...`.
Any other form stops the reader with the file and line, so a chart change that it would misread is
noticed instead of modelled wrongly.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from platformctl.adapters import atomic
from platformctl.config.paths import repo_root
from platformctl.errors import ConfigError

FACTS_FILE = Path("values") / "upstream-alerting.yaml"
RULES_DIR = Path("templates") / "prometheus" / "rules-1.14"

# Values keys the model reads besides the rules' switches (their chart defaults are recorded).
_READ_KEYS = (
    "alertmanager.enabled",
    "alertmanager.tplConfig",
    "alertmanager.stringConfig",
    "alertmanager.config",
    "alertmanager.alertmanagerSpec.useExistingSecret",
    "alertmanager.alertmanagerSpec.image.tag",
    "customRules",
    "defaultRules.disabled",
    "defaultRules.additionalRuleLabels",
    "defaultRules.additionalRuleGroupLabels",
)

_ACTION = re.compile(r"^\s*\{\{-?\s*(if|with|range|else|end)\b(.*?)\s*-?\}\}\s*$")
_ALERT = re.compile(r"^\s*- alert:\s*(\S+)\s*$")
_GROUP = re.compile(r"^\s*- name:\s*(\S+)\s*$")
_SEVERITY = re.compile(
    r'severity:\s*\{\{\s*dig\s+"([^"]+)"\s+"severity"\s+"([^"]+)"\s+\.Values\.customRules\s*\}\}'
)
_GROUP_LABELS = re.compile(r"\.Values\.defaultRules\.additionalRuleGroupLabels\.(\w+)")
_KUBE_VERSION = re.compile(r'\(semverCompare\s+"[^"]*"\s+\$kubeTargetVersion\)')
_DISABLED = re.compile(r"^not \(\.Values\.defaultRules\.disabled\.(\w+) \| default false\)$")
_VALUES_PATH = re.compile(r"^\.Values\.([A-Za-z0-9_.]+)$")
_LABELS_START = re.compile(r"^      labels:\s*$")
_STATIC_LABEL = re.compile(r"^        ([A-Za-z_][A-Za-z0-9_]*): ([^{}]+?)\s*$")


@dataclass(frozen=True)
class DefaultAlert:
    alert: str
    severity: str  # the default of `dig "<alert>" "severity" ...` (customRules may change it)
    group: str  # the key under defaultRules.additionalRuleGroupLabels that labels it
    rule_group: str  # the Prometheus rule group
    when: tuple[str, ...]  # values paths that must all be true
    labels: tuple[tuple[str, str], ...] = ()  # the rule's own labels besides severity


def _condition_paths(condition: str, where: str, alert: str) -> list[str]:
    """Values paths that must be true for one `if` condition; [] for the per-alert disabled switch."""
    disabled = _DISABLED.match(condition)
    if disabled:
        if disabled.group(1) != alert:
            raise ConfigError(
                f"{where}: alert {alert} is switched by defaultRules.disabled.{disabled.group(1)}"
            )
        return []
    terms = _KUBE_VERSION.sub("", condition).split()
    if terms and terms[0] == "and":
        terms = terms[1:]
    paths = []
    for term in terms:
        match = _VALUES_PATH.match(term)
        if not match:
            raise ConfigError(f"{where}: cannot model the condition `if {condition}` around alert {alert}")
        paths.append(match.group(1))
    return paths


def parse_rules(text: str, name: str) -> list[DefaultAlert]:
    """The alerts of one rule template, with the values paths that switch each one on."""
    stack: list[tuple[str, str, int]] = []  # (keyword, argument, line)
    found: list[DefaultAlert] = []
    pending: dict[str, Any] | None = None
    rule_group = ""

    def finish() -> None:
        if pending is None:
            return
        if "severity" not in pending or "group" not in pending:
            raise ConfigError(
                f"{name}:{pending['line']}: alert {pending['alert']} has no `dig ... severity` or no "
                "additionalRuleGroupLabels key; the reader cannot model it"
            )
        labels = tuple(sorted(pending["labels"].items()))
        found.append(
            DefaultAlert(
                pending["alert"],
                pending["severity"],
                pending["group"],
                pending["rule_group"],
                pending["when"],
                labels,
            )
        )

    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{name}:{number}"
        labels = _GROUP_LABELS.search(line)
        if labels and pending is not None:
            pending.setdefault("group", labels.group(1))
        action = _ACTION.match(line)
        if action:
            keyword, argument = action.group(1), action.group(2).strip()
            if keyword == "else":
                raise ConfigError(f"{where}: `else` in a rule template; the reader cannot model it")
            if keyword == "end":
                if not stack:
                    raise ConfigError(f"{where}: `end` without an open block")
                stack.pop()
            else:
                stack.append((keyword, argument, number))
            continue
        group = _GROUP.match(line)
        if group:
            rule_group = group.group(1)
            continue
        alert = _ALERT.match(line)
        if alert:
            finish()
            name_ = alert.group(1)
            when: list[str] = []
            for keyword, argument, opened in stack:
                if keyword != "if":
                    raise ConfigError(f"{where}: alert {name_} inside `{keyword}` (line {opened})")
                when += _condition_paths(argument, f"{name}:{opened}", name_)
            pending = {
                "alert": name_,
                "line": number,
                "rule_group": rule_group,
                "when": tuple(when),
                "labels": {},
                "in_labels": False,
            }
            continue
        if pending is None:
            continue
        if _LABELS_START.match(line):
            pending["in_labels"] = True
            continue
        static = _STATIC_LABEL.match(line)
        if pending["in_labels"] and static:
            pending["labels"][static.group(1)] = static.group(2).strip("'\"")
            continue
        if not line.startswith("        "):
            pending["in_labels"] = False
        severity = _SEVERITY.search(line)
        if severity:
            if severity.group(1) != pending["alert"]:
                raise ConfigError(f"{where}: severity of {severity.group(1)} under alert {pending['alert']}")
            pending.setdefault("severity", severity.group(2))
    finish()
    if stack:
        raise ConfigError(f"{name}: {len(stack)} block(s) not closed (first at line {stack[0][2]})")
    return found


def _get(values: Mapping[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise ConfigError(f"the chart's values.yaml has no `{path}`; the facts cannot be read")
        node = node[part]
    return node


def _put(tree: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        tree = tree.setdefault(part, {})
    tree[parts[-1]] = value


def read(chart_dir: Path) -> dict[str, Any]:
    """The facts of a kube-prometheus-stack source directory (Chart.yaml, values.yaml, rule templates)."""
    try:
        chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
        values = yaml.safe_load((chart_dir / "values.yaml").read_text())
        templates = sorted((chart_dir / RULES_DIR).glob("*.yaml"))
    except OSError as exc:
        raise ConfigError(f"{chart_dir}: {exc.strerror}; pass the chart's own directory") from None
    if chart.get("name") != "kube-prometheus-stack" or not templates:
        raise ConfigError(f"{chart_dir} is not a kube-prometheus-stack chart with {RULES_DIR}")
    alerts = [a for path in templates for a in parse_rules(path.read_text(), f"{RULES_DIR}/{path.name}")]
    defaults: dict[str, Any] = {}
    for path in sorted({*_READ_KEYS, *(p for a in alerts for p in a.when)}):
        _put(defaults, path, _get(values, path))
    return {"chart": chart["name"], "read_at": str(chart["version"]), "defaults": defaults, "alerts": alerts}


HEADER = """\
# Generated by `python -m platformctl.app.alert_facts --chart-dir <kube-prometheus-stack source at read_at>`
# (scripts/platformctl/app/alert_facts.py). Do not edit by hand.
# defaults: the chart's own values for every key the alerting model reads (values/common and
#   values/<env> are merged over them, as Helm does).
# rule_groups: the alerts of its default PrometheusRules, by Prometheus rule group; an alert exists when
#   every `when` path is true and defaultRules.disabled.<alert> is not; `labels` is the key under
#   defaultRules.additionalRuleGroupLabels that adds labels to it; `severity` is the chart's default,
#   which customRules.<alert>.severity replaces.
"""


def _groups(alerts: Sequence[DefaultAlert]) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for alert in alerts:
        key = {"rule_group": alert.rule_group, "labels": alert.group, "when": list(alert.when)}
        if not groups or {k: groups[-1][k] for k in key} != key:
            groups.append({**key, "alerts": []})
        entry: dict[str, Any] = {"alert": alert.alert, "severity": alert.severity}
        if alert.labels:
            entry["labels"] = dict(alert.labels)
        groups[-1]["alerts"].append(entry)
    return groups


class _Dumper(yaml.SafeDumper):
    """Block style, except short lists of scalars and the one-line alert entries."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(item, dict | list) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flow = {"alert", "severity"} <= set(data) <= {"alert", "severity", "labels"}
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(dict, _represent_dict)


def dump(facts: Mapping[str, Any]) -> str:
    body = {k: v for k, v in facts.items() if k != "alerts"}
    body["rule_groups"] = _groups(facts["alerts"])
    return HEADER + yaml.dump(body, Dumper=_Dumper, sort_keys=False, width=130)


def load(path: Path) -> dict[str, Any]:
    """The facts file, with `alerts` flattened to DefaultAlert records."""
    try:
        raw = yaml.safe_load(path.read_text())
        alerts = [
            DefaultAlert(
                a["alert"],
                a["severity"],
                g["labels"],
                g["rule_group"],
                tuple(g["when"]),
                tuple(sorted((a.get("labels") or {}).items())),
            )
            for g in raw["rule_groups"]
            for a in g["alerts"]
        ]
        return {
            "chart": raw["chart"],
            "read_at": str(raw["read_at"]),
            "defaults": raw["defaults"],
            "alerts": alerts,
        }
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: not a facts file ({exc}); regenerate it with platformctl.app.alert_facts"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m platformctl.app.alert_facts", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--chart-dir", type=Path, required=True, help="charts/kube-prometheus-stack at a tag")
    args = parser.parse_args(argv)
    try:
        facts = read(args.chart_dir)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    target = repo_root() / FACTS_FILE
    atomic.write_file(target, dump(facts).encode())
    print(f"wrote {FACTS_FILE}: {len(facts['alerts'])} alerts of kube-prometheus-stack {facts['read_at']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

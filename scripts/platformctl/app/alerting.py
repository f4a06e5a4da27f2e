"""Alert routing: every alert rule of the charts, Alertmanager's configuration per env, docs/alerting.md.

Each fact is read from one place:
  rules    the PrometheusRules the own charts of an env's release plan render (helm template), and the
           default alerts of kube-prometheus-stack that the env's values leave on
           (values/upstream-alerting.yaml, read from the chart's source at the pinned version by
           platformctl.app.alert_facts)
  config   kube-prometheus-stack's `alertmanager.config`: the chart's default with the release's values
           files merged over it, as Helm does; the chart writes it with toYaml into Alertmanager's config
           Secret
  intent   values/alert-routing.yaml: the receiver of each severity and team, per env

docs/alerting.md holds the routing table generated from them between two markers; the text around it is
written by hand. tests/charts/test_alerting.py proves with amtool that each env's configuration sends every
alert where the table says, and fails when the table is stale.

    .venv/bin/python -m platformctl.app.alerting           # check docs/alerting.md
    .venv/bin/python -m platformctl.app.alerting --write   # rewrite its table
"""

from __future__ import annotations

import argparse
import copy
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

from platformctl.adapters.tools import find_tool
from platformctl.app import alert_facts
from platformctl.app.values import load_yaml, merge
from platformctl.config import configfile, environments
from platformctl.config.paths import repo_root
from platformctl.config.release import Release
from platformctl.errors import ConfigError

POLICY_FILE = Path("values") / "alert-routing.yaml"
DOC_FILE = Path("docs") / "alerting.md"
START, END = "<!-- routing-table:start -->", "<!-- routing-table:end -->"
UPSTREAM_RELEASE = "kube-prometheus-stack"
SEVERITIES = ("critical", "warning", "info")
# Where the operator mounts `alertmanagerSpec.secrets` (prometheus-operator v0.86.2,
# pkg/alertmanager/statefulset.go: secretsDir).
SECRETS_DIR = "/etc/alertmanager/secrets"
# Fields that hold a URL, key or password inline (Alertmanager 0.29, config/config.go and
# config/notifiers.go at v0.29.0; http_config's from prometheus/common): the configuration must use their
# `_file` twins instead. `url` is a secret in webhook_configs only (elsewhere it names a public endpoint).
INLINE_SECRET_FIELDS = frozenset(
    {
        "alert_source_token",
        "api_key",
        "api_url",
        "auth_password",
        "bearer_token",
        "bot_token",
        "credentials",
        "password",
        "routing_key",
        "service_key",
        "token",
        "token_id",
        "user_key",
        "webhook_url",
    }
)
INLINE_SECRET_BY_KIND = {"webhook_configs": frozenset({"url"})}
GLOBAL_SECRET_FIELDS = frozenset(
    {
        "opsgenie_api_key",
        "rocketchat_token",
        "rocketchat_token_id",
        "slack_api_url",
        "smtp_auth_password",
        "smtp_auth_secret",
        "victorops_api_key",
        "wechat_api_secret",
    }
)


# --- the intent ----------------------------------------------------------------------------------------


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    teams: list[str]
    quiet_alerts: list[str]
    quiet_receiver: str
    envs: dict[str, dict[str, dict[str, str]]]  # env -> severity -> team -> receiver
    unowned_team: str

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        if self.unowned_team not in self.teams:
            raise ValueError(f"unowned_team '{self.unowned_team}' is not one of teams {self.teams}")
        for env in environments.names():
            if env not in self.envs:
                raise ValueError(f"envs has no '{env}'")
            for severity in SEVERITIES:
                got = sorted(self.envs[env].get(severity, {}))
                if got != sorted(self.teams):
                    raise ValueError(
                        f"envs.{env}.{severity} names teams {got}, expected {sorted(self.teams)}"
                    )
        return self

    def receiver(self, env: str, alert: Alert) -> str:
        """Where `alert` must go in `env`."""
        if alert.name in self.quiet_alerts:
            return self.quiet_receiver
        team = alert.team if alert.team in self.teams else self.unowned_team
        by_team = self.envs[env].get(alert.severity)
        if by_team is None:
            raise ConfigError(
                f"{alert.name} ({alert.source}) has severity '{alert.severity}', which {POLICY_FILE} does "
                f"not route; use one of {', '.join(SEVERITIES)}"
            )
        return by_team[team]


def load_policy(root: Path) -> Policy:
    return configfile.load(Policy, root / POLICY_FILE, str(POLICY_FILE), "fix the routing policy")


# --- the rules -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    name: str
    source: str  # "<release>/<PrometheusRule>" or "kube-prometheus-stack/<rule group>"
    labels: tuple[tuple[str, str], ...]  # the rule's labels, sorted

    @property
    def severity(self) -> str:
        return dict(self.labels).get("severity", "")

    @property
    def team(self) -> str:
        return dict(self.labels).get("team", "")

    @property
    def amtool_labels(self) -> list[str]:
        """`name=value` arguments for `amtool config routes test`."""
        return [f"alertname={self.name}", *(f"{k}={v}" for k, v in self.labels)]


def chart_alerts(release: str, manifests: Iterable[Mapping[str, Any]]) -> list[Alert]:
    """The alerting rules of the PrometheusRules among one release's rendered manifests."""
    found = []
    for doc in manifests:
        if doc.get("kind") != "PrometheusRule":
            continue
        source = f"{release}/{doc['metadata']['name']}"
        for group in doc.get("spec", {}).get("groups", []):
            for rule in group.get("rules", []):
                if "alert" in rule:
                    labels = tuple(sorted((str(k), str(v)) for k, v in (rule.get("labels") or {}).items()))
                    found.append(Alert(str(rule["alert"]), source, labels))
    return found


def rule_problems(alerts: Iterable[Alert], policy: Policy) -> list[str]:
    """Every own-chart rule carries `severity` (critical|warning|info) and a `team` the policy knows."""
    problems = []
    for alert in alerts:
        if alert.severity not in SEVERITIES:
            problems.append(
                f"{alert.name} ({alert.source}): severity '{alert.severity}' is not one of {SEVERITIES}"
            )
        if alert.team not in policy.teams:
            problems.append(
                f"{alert.name} ({alert.source}): team '{alert.team}' is not one of {policy.teams} "
                f"({POLICY_FILE}); add the `team` label to the rule"
            )
    return problems


def coalesce(defaults: Mapping[str, Any], user: Mapping[str, Any]) -> dict[str, Any]:
    """User values over a chart's defaults, as Helm does: maps merge, anything else replaces, null deletes."""
    out = copy.deepcopy(dict(defaults))
    for key, value in user.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = coalesce(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def upstream_values(root: Path, release: Release, facts: Mapping[str, Any]) -> dict[str, Any]:
    """kube-prometheus-stack's values for the keys the model reads: the files of the plan (those that
    exist; the generated one is written by `platformctl values`) merged, then over the chart's defaults."""
    user: dict[str, Any] = {}
    for name in release.values_files:
        user = merge(user, load_yaml(root / name))
    return coalesce(facts["defaults"], user)


def _path(values: Mapping[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def default_alerts(values: Mapping[str, Any], facts: Mapping[str, Any]) -> list[Alert]:
    """The chart's default alerts that `values` leave on, with the labels the chart gives them."""
    disabled = _path(values, "defaultRules.disabled") or {}
    extra = _path(values, "defaultRules.additionalRuleLabels") or {}
    per_group = _path(values, "defaultRules.additionalRuleGroupLabels") or {}
    custom = _path(values, "customRules") or {}
    found = []
    for alert in facts["alerts"]:
        if disabled.get(alert.alert) or not all(_path(values, p) for p in alert.when):
            continue
        severity = (custom.get(alert.alert) or {}).get("severity", alert.severity)
        labels = {**dict(alert.labels), "severity": severity, **extra, **(per_group.get(alert.group) or {})}
        pairs = tuple(sorted((str(k), str(v)) for k, v in labels.items()))
        found.append(Alert(alert.alert, f"{UPSTREAM_RELEASE}/{alert.rule_group}", pairs))
    return found


def alertmanager_config(values: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration the chart writes into Alertmanager's config Secret (templates/alertmanager/
    secret.yaml: `toYaml .Values.alertmanager.config` when tplConfig is false)."""
    am = values.get("alertmanager") or {}
    spec = am.get("alertmanagerSpec") or {}
    if not am.get("enabled"):
        raise ConfigError("kube-prometheus-stack: alertmanager.enabled is false, so no alert reaches anyone")
    if am.get("tplConfig") or spec.get("useExistingSecret") or spec.get("configSecret"):
        raise ConfigError(
            "kube-prometheus-stack: set the routing in alertmanager.config (tplConfig, useExistingSecret and "
            "configSecret bypass it, and the routing tests with it)"
        )
    return copy.deepcopy(dict(am["config"]))


def config_problems(
    config: Mapping[str, Any], values: Mapping[str, Any], secret_keys: Mapping[str, Iterable[str]]
) -> list[str]:
    """No URL, key or password is written into the configuration; every `*_file` is a key of a Secret the
    pods mount and the secret map fills from Vault (`secret_keys`: Secret name -> its keys)."""
    mounted = set(_path(values, "alertmanager.alertmanagerSpec.secrets") or [])
    problems = [
        f"global {field}: inline; use {field}_file with a key of a mounted Secret"
        for field in sorted(set(config.get("global") or {}) & GLOBAL_SECRET_FIELDS)
    ]
    for field, value in _leaves(config.get("global") or {}):
        if field.endswith("_file"):
            problems += _file_problem(f"global {field}", str(value), mounted, secret_keys)
    for receiver in config.get("receivers") or []:
        for kind, entries in receiver.items():
            if kind == "name":
                continue
            inline = INLINE_SECRET_FIELDS | INLINE_SECRET_BY_KIND.get(kind, frozenset())
            for entry in entries or []:
                for field, value in _leaves(entry):
                    where = f"receiver {receiver['name']} {kind} {field}"
                    if field in inline:
                        problems.append(f"{where}: inline; use {field}_file with a key of a mounted Secret")
                    elif field.endswith("_file"):
                        problems += _file_problem(where, str(value), mounted, secret_keys)
    return problems


def _leaves(entry: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in entry.items():
        if isinstance(value, Mapping):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}".rsplit(".", 1)[-1], value


def _file_problem(
    where: str, value: str, mounted: set[str], secret_keys: Mapping[str, Iterable[str]]
) -> list[str]:
    match = re.fullmatch(re.escape(SECRETS_DIR) + r"/([^/]+)/([^/]+)", value)
    if not match:
        return [f"{where}: {value} is not {SECRETS_DIR}/<Secret>/<key>"]
    secret, key = match.groups()
    if secret not in mounted:
        return [f"{where}: Secret {secret} is not in alertmanager.alertmanagerSpec.secrets"]
    if key not in secret_keys.get(secret, ()):
        return [f"{where}: Secret {secret} has no key {key} in values/secrets-map.yaml"]
    return []


# --- everything for an env ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvRouting:
    env: str
    values: dict[str, Any]  # kube-prometheus-stack's values (the keys the model reads)
    config: dict[str, Any]  # Alertmanager's configuration
    chart_alerts: list[Alert]  # the own charts' rules
    default_alerts: list[Alert]  # kube-prometheus-stack's default rules that are on
    facts_read_at: str  # the kube-prometheus-stack version values/upstream-alerting.yaml was read at

    @property
    def alerts(self) -> list[Alert]:
        return [*self.chart_alerts, *self.default_alerts]


def charts_with_rules(root: Path) -> set[str]:
    """Own charts (charts/<name>) that have a PrometheusRule template."""
    found = set()
    for template in (root / "charts").glob("*/templates/*"):
        if template.is_file() and re.search(
            r"^kind:\s*PrometheusRule\s*$", template.read_text(), re.MULTILINE
        ):
            found.add(f"charts/{template.parent.parent.name}")
    return found


def build(
    env: str,
    releases: Sequence[Release],
    manifests: Callable[[Release], Sequence[Mapping[str, Any]]],
    root: Path,
) -> EnvRouting:
    """One env: `releases` is its release plan, `manifests` renders an own chart's release."""
    facts = alert_facts.load(root / alert_facts.FACTS_FILE)
    upstream = next((r for r in releases if r.name == UPSTREAM_RELEASE), None)
    if upstream is None:
        raise ConfigError(f"the {env} release plan has no {UPSTREAM_RELEASE}, so no Alertmanager")
    values = upstream_values(root, upstream, facts)
    with_rules = charts_with_rules(root)
    own = [a for r in releases if r.chart_path in with_rules for a in chart_alerts(r.name, manifests(r))]
    config = alertmanager_config(values)
    return EnvRouting(env, values, config, own, default_alerts(values, facts), facts["read_at"])


# --- the document ---------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return f"`{text}`" if text else "—"


def _receivers_table(routings: Sequence[EnvRouting]) -> list[str]:
    names: list[str] = []
    for routing in routings:
        names += [r["name"] for r in routing.config.get("receivers") or [] if r["name"] not in names]
    rows = ["| receiver | " + " | ".join(r.env for r in routings) + " |", "|---" * (len(routings) + 1) + "|"]
    for name in names:
        cells = []
        for routing in routings:
            receiver = next((r for r in routing.config.get("receivers") or [] if r["name"] == name), None)
            cells.append("not defined" if receiver is None else _describe(receiver))
        rows.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return rows


def _describe(receiver: Mapping[str, Any]) -> str:
    parts = []
    for kind, entries in sorted(receiver.items()):
        if kind == "name":
            continue
        for entry in entries or []:
            files = [str(v).rsplit("/", 1)[-1] for k, v in _leaves(entry) if k.endswith("_file")]
            parts.append(kind.removesuffix("_configs") + "".join(f" (`{f}`)" for f in files))
    return " + ".join(parts) or "nothing (drops the notification)"


def _policy_table(policy: Policy, routings: Sequence[EnvRouting]) -> list[str]:
    rows = [
        "| severity | team | " + " | ".join(r.env for r in routings) + " |",
        "|---|---" + "|---" * len(routings) + "|",
    ]
    for severity in SEVERITIES:
        for team in policy.teams:
            cells = [f"`{policy.envs[r.env][severity][team]}`" for r in routings]
            rows.append(f"| {severity} | {team} | " + " | ".join(cells) + " |")
    return rows


def _alert_table(
    policy: Policy, routings: Sequence[EnvRouting], pick: Callable[[EnvRouting], list[Alert]]
) -> list[str]:
    rows: dict[Alert, dict[str, str]] = {}
    for routing in routings:
        for alert in pick(routing):
            rows.setdefault(alert, {})[routing.env] = policy.receiver(routing.env, alert)
    lines = [
        "| alert | rule | severity | team | " + " | ".join(r.env for r in routings) + " |",
        "|---|---|---|---" + "|---" * len(routings) + "|",
    ]
    for alert in sorted(rows, key=lambda a: (a.source, a.name, a.labels)):
        extra = ", ".join(f"{k}={v}" for k, v in alert.labels if k not in ("severity", "team"))
        name = f"{alert.name} ({extra})" if extra else alert.name
        cells = [_cell(rows[alert].get(r.env, "")) for r in routings]
        lines.append(
            f"| {name} | {alert.source} | {alert.severity or '—'} | {alert.team or '—'} | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def markdown(policy: Policy, routings: Sequence[EnvRouting]) -> str:
    """The generated part of docs/alerting.md (between the markers)."""
    facts_at = ", ".join(sorted({r.facts_read_at for r in routings}))
    lines = [
        START,
        "<!-- Generated by `.venv/bin/python -m platformctl.app.alerting --write`; do not edit by hand. -->",
        "",
        "### Receivers",
        "",
        "What each receiver of the env's Alertmanager configuration sends, and the key of the Secret",
        "`alertmanager-receivers` it reads the URL or routing key from.",
        "",
        *_receivers_table(routings),
        "",
        f"### Severity and team ({POLICY_FILE})",
        "",
        *_policy_table(policy, routings),
        "",
        f"Always `{policy.quiet_receiver}`: {', '.join(policy.quiet_alerts)}. An alert without a known team "
        f"is routed as `{policy.unowned_team}`'s.",
        "",
        "### Alerts of the charts",
        "",
        *_alert_table(policy, routings, lambda r: r.chart_alerts),
        "",
        f"### kube-prometheus-stack's default alerts (on with our values; read at {facts_at})",
        "",
        "— in an env column: the alert is off there.",
        "",
        *_alert_table(policy, routings, lambda r: r.default_alerts),
        "",
        END,
    ]
    return "\n".join(lines) + "\n"


def replace_section(text: str, section: str) -> str:
    if START not in text or END not in text:
        raise ConfigError(f"{DOC_FILE} lacks the markers {START} ... {END}; put them where the table goes")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1].lstrip("\n")
    return head + section + ("\n" + tail if tail else "")


# --- amtool ---------------------------------------------------------------------------------------------


def write_config(config: Mapping[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    return path


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(find_tool("amtool")), *args], capture_output=True, text=True, check=False, timeout=60
    )


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return amtool("check-config", str(path))


def verify_route(path: Path, labels: Sequence[str], receivers: Sequence[str]) -> tuple[bool, str]:
    """`amtool config routes test --verify.receivers`: whether the alert with `labels` goes exactly to
    `receivers`, and the receivers amtool found."""
    proc = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={path}",
        f"--verify.receivers={','.join(receivers)}",
        *labels,
    )
    return proc.returncode == 0, proc.stdout.strip().splitlines()[
        0
    ] if proc.stdout.strip() else proc.stderr.strip()


# --- command line ---------------------------------------------------------------------------------------


# As on a cluster where the monitoring.coreos.com CRDs are installed (the plan's wave 0).
RULE_APIS = ("monitoring.coreos.com/v1/PrometheusRule",)


def routings(root: Path) -> list[EnvRouting]:
    from platformctl.app import release_plan, render

    with tempfile.TemporaryDirectory() as scratch:
        planned = release_plan.every_env(Path(scratch))
    return [
        build(env, plan, lambda r: render.manifests(r, root, RULE_APIS), root)
        for env, plan in planned.items()
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m platformctl.app.alerting", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--write", action="store_true", help=f"rewrite the table in {DOC_FILE}")
    args = parser.parse_args(argv)
    root = repo_root()
    try:
        policy = load_policy(root)
        built = routings(root)
        problems = rule_problems([a for r in built for a in r.chart_alerts], policy)
        if problems:
            raise ConfigError(problems[0])
        current = (root / DOC_FILE).read_text() if (root / DOC_FILE).is_file() else f"{START}\n{END}\n"
        wanted = replace_section(current, markdown(policy, built))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    command = ".venv/bin/python -m platformctl.app.alerting --write"
    return configfile.write_or_check(root / DOC_FILE, wanted, str(DOC_FILE), command, args.write)


if __name__ == "__main__":
    sys.exit(main())

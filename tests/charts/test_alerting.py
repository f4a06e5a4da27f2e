"""Alert routing (docs/alerting.md), proven with the real Alertmanager tooling.

The sources are the ones platformctl.app.alerting reads: the PrometheusRules the own charts render (the
session
render: real helm, values/common + values/<env> + the generated fixture) for the releases of each env's
plan (terraform), kube-prometheus-stack's default alerts and default `alertmanager.config`
(values/upstream-alerting.yaml, read from the chart's source at 79.5.0: values.yaml,
templates/alertmanager/secret.yaml, templates/prometheus/rules-1.14/) with the env's values files merged
over them as Helm does, and the intent in values/alert-routing.yaml. amtool and the Alertmanager binary are
Debian's prometheus-alertmanager (versions.yaml `tools.amtool`; 0.25.0 on bookworm, while the chart runs
v0.29.0: docs/alerting.md, "Limits").
"""

from __future__ import annotations

import copy
import json
import re
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from platformctl.adapters.net import free_port
from platformctl.adapters.tools import find_tool
from platformctl.app import alert_facts, alerting
from platformctl.config import secret_map

from tests.fixtures.servers import wait_until
from tools.charts import render

REPO = render.REPO
ENVS = render.ENVS


@pytest.fixture(scope="module")
def routings(env_plans, rendered) -> dict[str, alerting.EnvRouting]:
    return {
        env: alerting.build(env, env_plans[env], lambda r, env=env: rendered[(r.name, env)], REPO)
        for env in ENVS
    }


@pytest.fixture(scope="module")
def policy() -> alerting.Policy:
    return alerting.load_policy(REPO)


@pytest.fixture(scope="module")
def config_files(routings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("alertmanager")
    return {env: alerting.write_config(routings[env].config, out / f"{env}.yaml") for env in ENVS}


# --- the configuration of each env ------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_amtool_check_config_accepts_each_env(config_files, env):
    proc = alerting.check_config(config_files[env])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_amtool_check_config_rejects_a_route_to_a_missing_receiver(routings, tmp_path):
    """check-config really validates: a route to an undefined receiver is refused."""
    config = copy.deepcopy(routings["prod"].config)
    config["route"]["routes"][-1]["receiver"] = "nobody-listens"
    proc = alerting.check_config(alerting.write_config(config, tmp_path / "broken.yaml"))
    assert proc.returncode != 0
    assert "nobody-listens" in proc.stdout + proc.stderr


@pytest.mark.parametrize("env", ENVS)
def test_receivers_read_urls_and_keys_from_mounted_secret_files(routings, env):
    """No URL, key or password in the configuration (so none in values, the rendered config Secret or
    Helm's history); every `*_file` is a key of a Secret the pods mount and the secret map fills."""
    smap = secret_map.load()
    keys = {
        name: list(spec.keys)
        for name, spec in smap.secrets.items()
        if spec.namespace == "monitoring" and alerting.UPSTREAM_RELEASE in spec.consumers
    }
    assert alerting.config_problems(routings[env].config, routings[env].values, keys) == []


def test_the_secret_file_check_finds_inline_values_and_unknown_keys(routings):
    config = copy.deepcopy(routings["prod"].config)
    receivers = {r["name"]: r for r in config["receivers"]}
    receivers["backend-chat"]["slack_configs"][0] = {"api_url": "https://hooks.example.invalid/x"}
    pager = receivers["platform-pager"]["pagerduty_configs"][0]
    pager["routing_key_file"] = "/etc/alertmanager/secrets/alertmanager-receivers/no-such-key"
    config["receivers"].append({"name": "hook", "webhook_configs": [{"url": "http://127.0.0.1:9/x"}]})
    config.setdefault("global", {})["slack_api_url"] = "https://hooks.example.invalid/y"
    keys = {"alertmanager-receivers": ["slack-backend-url"]}
    problems = alerting.config_problems(config, routings["prod"].values, keys)
    assert any("backend-chat slack_configs api_url: inline" in p for p in problems), problems
    assert any("has no key no-such-key" in p for p in problems), problems
    assert any("hook webhook_configs url: inline" in p for p in problems), problems
    assert any("global slack_api_url: inline" in p for p in problems), problems


def test_dev_receivers_send_nothing(routings):
    """dev is nowhere loud: no receiver of its configuration has a notifier."""
    config = routings["dev"].config
    assert [r["name"] for r in config["receivers"]] == ["null"]
    assert all(set(r) == {"name"} for r in config["receivers"])


def test_dev_placeholders_in_vault_reach_nothing():
    """`platformctl vault dev` seeds fixed placeholders: URLs on the reserved .invalid domain, no keys."""
    smap = secret_map.load()
    seeds = smap.vault["alertmanager-receivers"]
    assert set(seeds) == set(smap.secrets["alertmanager-receivers"].keys.values())
    for key, generator in seeds.items():
        assert generator.startswith("fixed:"), key
        value = generator.removeprefix("fixed:")
        if "://" in value:
            assert re.match(r"^https?://[^/]+\.invalid(/|$)", value), value


# --- every alert rule goes where the table says ----------------------------------------------------------


def test_every_chart_rule_carries_severity_and_a_known_team(routings, policy):
    alerts = [a for r in routings.values() for a in r.chart_alerts]
    assert alerts, "the own charts rendered no PrometheusRule alert"
    assert alerting.rule_problems(alerts, policy) == []
    assert {a.team for r in routings.values() for a in r.default_alerts} == {"platform"}


_MATCHER = re.compile(r'^\s*"?([A-Za-z_][A-Za-z0-9_]*)"?\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')
_LITERALS = re.compile(r"^[A-Za-z0-9_]+(\|[A-Za-z0-9_]+)*$")


def _matchers(route: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    for text in route.get("matchers") or []:
        match = _MATCHER.match(text)
        assert match, f"matcher {text!r}: teach this test its syntax"
        yield match.group(1), match.group(2), match.group(3)
    for name, value in (route.get("match") or {}).items():
        yield name, "=", str(value)
    for name, value in (route.get("match_re") or {}).items():
        yield name, "=~", str(value)
    for child in route.get("routes") or []:
        yield from _matchers(child)


def _literals(route: dict[str, Any]) -> dict[str, set[str] | None]:
    """Label name -> the values the routing tree names for it, or None when a matcher on it is a real
    regular expression (then every value counts on its own)."""
    out: dict[str, set[str] | None] = {}
    for name, op, value in _matchers(route):
        known = out.setdefault(name, set())
        if op in ("=", "!=") and known is not None:
            known.add(value)
        elif op in ("=~", "!~") and known is not None and _LITERALS.match(value):
            known.update(value.split("|"))
        else:
            out[name] = None
    return out


def _routing_class(alert: alerting.Alert, literals: dict[str, set[str] | None]) -> tuple[Any, ...]:
    """What of an alert's labels the routing tree can tell apart: only labels its matchers name, and of a
    label matched against literals only whether (and which) literal it is. Alerts of one class go to the
    same receivers, since Alertmanager picks receivers by matchers alone."""
    labels = {"alertname": alert.name, **dict(alert.labels)}
    key = []
    for name, values in sorted(literals.items()):
        value = labels.get(name)
        if values is not None and value is not None and value not in values:
            value = "<another value>"
        key.append((name, value))
    return tuple(key)


@pytest.mark.parametrize("env", ENVS)
def test_every_alert_routes_where_the_table_says(routings, policy, config_files, env):
    """`amtool config routes test --verify.receivers=<the table's receiver>` for each alert of the own
    charts, and for each routing class of kube-prometheus-stack's default alerts (one amtool run each; a
    class whose members the table sends to different receivers runs every member)."""
    routing = routings[env]
    literals = _literals(routing.config["route"])
    checks: dict[Any, list[alerting.Alert]] = {("rule", a): [a] for a in routing.chart_alerts}
    for alert in routing.default_alerts:
        checks.setdefault(("class", _routing_class(alert, literals)), []).append(alert)
    assert routing.chart_alerts and routing.default_alerts
    failures, runs = [], 0
    for members in checks.values():
        distinct = {policy.receiver(env, a) for a in members}
        for alert in members if len(distinct) > 1 else members[:1]:
            want = policy.receiver(env, alert)
            ok, got = alerting.verify_route(config_files[env], alert.amtool_labels, [want])
            runs += 1
            if not ok:
                failures.append(
                    f"{alert.name} {dict(alert.labels)} ({alert.source}): table {want}, amtool {got}"
                )
    assert failures == []
    assert runs > len(routing.chart_alerts)  # every own rule, and the default alerts' classes


@pytest.mark.parametrize("env", ENVS)
def test_an_alert_without_a_known_team_still_reaches_someone(policy, config_files, env):
    for severity in ("critical", "warning"):
        for labels in ((("severity", severity),), (("severity", severity), ("team", "nobody"))):
            alert = alerting.Alert("NotInAnyChart", "test", labels)
            want = policy.receiver(env, alert)
            ok, got = alerting.verify_route(config_files[env], alert.amtool_labels, [want])
            assert ok, f"{dict(labels)}: table {want}, amtool {got}"
            assert want == policy.envs[env][severity][policy.unowned_team]


def test_amtool_verify_fails_for_another_receiver(config_files):
    """The check above can fail: amtool refuses a receiver the tree does not pick."""
    labels = ["alertname=ServiceDown", "severity=critical", "team=backend"]
    ok, got = alerting.verify_route(config_files["prod"], labels, ["platform-chat"])
    assert (ok, got) == (False, "backend-pager")


# --- the document ----------------------------------------------------------------------------------------


def test_doc_table_is_generated_from_the_same_sources(routings, policy):
    current = (REPO / alerting.DOC_FILE).read_text()
    wanted = alerting.replace_section(current, alerting.markdown(policy, [routings[e] for e in ENVS]))
    assert current == wanted, (
        "docs/alerting.md is stale: run `.venv/bin/python -m platformctl.app.alerting --write`"
    )


def test_upstream_facts_were_read_at_the_pinned_chart_version():
    facts = alert_facts.load(REPO / alert_facts.FACTS_FILE)
    pinned = render.versions()["charts"]["kube-prometheus-stack"]["version"]
    assert facts["read_at"] == pinned, (
        f"values/upstream-alerting.yaml was read at kube-prometheus-stack {facts['read_at']} but "
        f"versions.yaml pins {pinned}: rerun `python -m platformctl.app.alert_facts --chart-dir <the chart "
        "at "
        f"{pinned}>`"
    )


# --- a real Alertmanager with prod's configuration -------------------------------------------------------


class _Recorder(ThreadingHTTPServer):
    """Stands in for PagerDuty's Events API and Slack's incoming webhooks on 127.0.0.1."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.posts: list[tuple[str, dict[str, Any]]] = []

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for got, body in list(self.posts) if got == path]


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.path, json.loads(body)))
        self.send_response(202)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def _api(port: int, method: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v2/alerts",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
        text = response.read()
        return json.loads(text) if text else None


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _titles(recorder: _Recorder, path: str) -> list[str]:
    return [a.get("title", "") for body in recorder.bodies(path) for a in body.get("attachments", [])]


def test_prod_config_pages_and_inhibits_with_a_real_alertmanager(routings, tmp_path):
    """Debian's Alertmanager runs prod's configuration, changed only where this machine is not the
    cluster: the Secret's files are in tmp_path instead of /etc/alertmanager/secrets, PagerDuty's events
    URL points at a recorder on 127.0.0.1 (so do the Slack URLs in the files), and group_wait is 0s.
    A backend critical pages with the routing key read from its file and posts to the backend channel;
    a warning of the same alert and namespace is held back while the critical fires; the same warning in
    another namespace is not."""
    recorder = _Recorder()
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{recorder.server_address[1]}"
    secrets = tmp_path / "secrets"
    files = {
        "pagerduty-backend-key": "backend-routing-key-from-file",
        "pagerduty-platform-key": "platform-routing-key-from-file",
        "slack-backend-url": f"{base}/slack/backend",
        "slack-platform-url": f"{base}/slack/platform",
    }
    (secrets / "alertmanager-receivers").mkdir(parents=True)
    for name, content in files.items():
        (secrets / "alertmanager-receivers" / name).write_text(content + "\n")
    text = yaml.safe_dump(routings["prod"].config).replace(alerting.SECRETS_DIR, str(secrets))
    config = yaml.safe_load(text)
    config["route"]["group_wait"] = "0s"
    for receiver in config["receivers"]:
        for pager in receiver.get("pagerduty_configs", []):
            pager["url"] = f"{base}/pagerduty"
    config_file = alerting.write_config(config, tmp_path / "alertmanager.yml")

    port = free_port()
    binary = find_tool("prometheus-alertmanager")
    args = [
        str(binary),
        f"--config.file={config_file}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    log = (tmp_path / "alertmanager.log").open("w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _ready(port) or proc.poll() is not None, 20, "alertmanager")
        assert proc.poll() is None, (tmp_path / "alertmanager.log").read_text()
        critical = {
            "alertname": "ServiceDown",
            "severity": "critical",
            "team": "backend",
            "namespace": "apps",
        }
        _api(port, "POST", [{"labels": critical}])
        wait_until(lambda: bool(recorder.bodies("/pagerduty")), 15, "the PagerDuty event")
        wait_until(lambda: bool(_titles(recorder, "/slack/backend")), 15, "the backend channel's message")
        event = recorder.bodies("/pagerduty")[0]
        assert event["routing_key"] == files["pagerduty-backend-key"]
        assert event["event_action"] == "trigger"

        held = {**critical, "severity": "warning"}
        elsewhere = {**held, "namespace": "data"}
        _api(port, "POST", [{"labels": held}, {"labels": elsewhere}])
        wait_until(lambda: any("data" in t for t in _titles(recorder, "/slack/backend")), 15, "the warning")
        time.sleep(0.5)  # the held-back warning, had it been sent, would have arrived with the other one
        titles = _titles(recorder, "/slack/backend")
        assert [t for t in titles if "apps" in t and "warning" in t] == [], titles
        assert recorder.bodies("/slack/platform") == []
        inhibited = {
            a["labels"]["namespace"]: a["status"]["inhibitedBy"]
            for a in _api(port, "GET")
            if a["labels"]["severity"] == "warning"
        }
        assert inhibited["apps"] and not inhibited["data"], inhibited
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        recorder.shutdown()
        recorder.server_close()

"""RabbitMQ password rotation against the machine's real RabbitMQ (management API + AMQP logins) and a real
OpenBao; FakeKubeAPI stands in for Kubernetes only (Secrets, Deployments). Also the smoke-subset hook.
"""

from __future__ import annotations

import base64

import pytest
from kubernetes import config
from platformctl.adapters import rabbitmq
from platformctl.adapters.kube import KubeSecrets
from platformctl.app import release_plan, rotate, smoke
from platformctl.errors import ConfigError, PlatformError, SmokeFailed

from tests.fixtures.servers import free_port
from tests.integration.envs import allow_env
from tests.integration.rollers import RecordingRoller

NAME = "rabbitmq-app-password"


def _settings(api: str, admin: bool = True) -> rabbitmq.Settings:
    env = {"PLATFORMCTL_RABBITMQ_API": api, "PLATFORMCTL_RABBITMQ_AMQP": "127.0.0.1:5672"}
    if admin:
        env |= {"PLATFORMCTL_RABBITMQ_ADMIN_USER": "guest", "PLATFORMCTL_RABBITMQ_ADMIN_PASSWORD": "guest"}
    return rabbitmq.Settings.from_env(env)


def _plan(seeded, smap, fake_kube, user, password, settings, roller=None):
    data = seeded.read("rabbitmq").data
    seeded.write("rabbitmq", {**data, "username": user, "password": password})
    client = config.new_client_from_config(config_file=str(fake_kube[1]))
    spec = rotate.spec_for(smap, NAME)
    steps = rotate.steps_for(spec, smap, seeded, KubeSecrets(client), None, roller, settings)
    return rotate.Plan(NAME, spec, steps)


def _mounted(api, namespace: str, name: str) -> str:
    return base64.b64decode(api.secrets[(namespace, name)]["data"]["password"]).decode()


def test_rotation_changes_the_password_everywhere(seeded, smap, fake_kube, rabbit_user, rabbitmq_api):
    user, old = rabbit_user
    settings = _settings(rabbitmq_api)
    roller = RecordingRoller()
    plan = _plan(seeded, smap, fake_kube, user, old, settings, roller=roller)
    lines: list[str] = []
    before, after = rotate.run(plan, seeded, lines.append)
    new = seeded.read("rabbitmq").data["password"]
    assert new != old and after == before + 1
    assert rabbitmq.authenticates(settings, user, new)
    assert not rabbitmq.authenticates(settings, user, old)
    assert seeded.read("rabbitmq", version=before).data["password"] == old  # KV keeps both
    assert _mounted(fake_kube[0], "apps", "rabbitmq-app") == new
    assert _mounted(fake_kube[0], "data", "rabbitmq-credentials") == new
    assert roller.calls == [("apps", ("notifications", "users"))]  # the broker itself is not restarted
    assert not any(old in line or new in line for line in lines)


def test_user_changes_its_own_password_without_admin_settings(
    seeded, smap, fake_kube, rabbit_user, rabbitmq_api
):
    import httpx

    user, old = rabbit_user
    httpx.put(  # the chart's user is an administrator; the throw-away one becomes one here
        f"{rabbitmq_api}/api/users/{user}",
        auth=("guest", "guest"),
        json={"password": old, "tags": "administrator"},
    ).raise_for_status()
    settings = _settings(rabbitmq_api, admin=False)
    rotate.run(_plan(seeded, smap, fake_kube, user, old, settings), seeded, lambda _line: None)
    new = seeded.read("rabbitmq").data["password"]
    assert rabbitmq.authenticates(settings, user, new) and not rabbitmq.authenticates(settings, user, old)
    tags = httpx.get(f"{rabbitmq_api}/api/users/{user}", auth=("guest", "guest")).json()["tags"]
    assert "administrator" in tags  # PUT replaced the user: its tags were carried over


def test_failure_restores_old_password_and_kv(seeded, smap, fake_kube, rabbit_user, rabbitmq_api):
    user, old = rabbit_user
    settings = _settings(rabbitmq_api)
    plan = _plan(seeded, smap, fake_kube, user, old, settings)
    fake_kube[0].fail_apply = True
    with pytest.raises(PlatformError, match=f"rotation of {NAME} failed .*previous value restored") as exc:
        rotate.run(plan, seeded, lambda _line: None)
    assert exc.value.exit_code == 6
    latest = seeded.read("rabbitmq")
    assert latest.data["password"] == old
    rejected = seeded.read("rabbitmq", version=latest.version - 1).data["password"]
    assert rejected != old
    assert rabbitmq.authenticates(settings, user, old)
    assert not rabbitmq.authenticates(settings, user, rejected)


def test_bad_settings_are_one_line_errors(rabbitmq_api):
    with pytest.raises(ConfigError, match="needs PLATFORMCTL_RABBITMQ_API"):
        rabbitmq.Settings.from_env({})
    with pytest.raises(ConfigError, match="must be host:port"):
        rabbitmq.Settings.from_env(
            {"PLATFORMCTL_RABBITMQ_API": rabbitmq_api, "PLATFORMCTL_RABBITMQ_AMQP": "x"}
        )
    gone = rabbitmq.Settings(f"http://127.0.0.1:{free_port()}", "127.0.0.1", 5672)
    with pytest.raises(ConfigError, match=r"management API at .* unreachable"):
        rabbitmq.set_password(gone, "guest", "guest", "sentinel-value")
    wrong = rabbitmq.Settings(rabbitmq_api, "127.0.0.1", 5672)
    with pytest.raises(ConfigError, match=r"refused GET .* \(HTTP 401\)") as caught:
        rabbitmq.set_password(wrong, "guest", "not-the-password", "sentinel-value")
    assert "sentinel" not in str(caught.value)


def test_dry_run_describes_the_rabbitmq_step(run_cli, seeded, smap, monkeypatch, vault_server):
    monkeypatch.setenv("VAULT_ADDR", vault_server.addr)
    monkeypatch.setenv("VAULT_TOKEN", vault_server.token)
    monkeypatch.delenv("PLATFORMCTL_RABBITMQ_API", raising=False)
    allow_env(monkeypatch, seeded.env)
    before = seeded.read("rabbitmq").version
    code, out, err = run_cli("rotate", "--env", seeded.env, "--secret", NAME, "--dry-run")
    assert code == 0, err
    assert "set the RabbitMQ password of platform (management API)" in out
    assert "then check: smoke subset for notifications" in out
    assert "then check: smoke subset for users" in out  # the login-event outbox relay
    assert seeded.read("rabbitmq").version == before


# --- the smoke-subset hook (a fake suite stands in for the smoke use case, which needs a cluster) ---


def _with_smoke_suite(monkeypatch, calls: list[str], exit_code: int) -> None:
    """FAKE smoke suite (the real one needs a live cluster): records the component each check asks for,
    fails like the real verdict when exit_code is not 0. The release plan is not computed."""

    def fake_check(ctx, plan, only=None, *_args):
        calls.append(only)
        if exit_code:
            raise SmokeFailed(f"smoke tests failed (1 failing check(s), pytest exit {exit_code})")
        return 0

    monkeypatch.setattr(smoke, "check", fake_check)
    monkeypatch.setattr(release_plan, "from_terraform", lambda env: [])


def test_smoke_subset_runs_the_smoke_suite_for_each_consumer(monkeypatch, smap):
    calls: list[str] = []
    _with_smoke_suite(monkeypatch, calls, 0)
    checks = rotate.checks_for(rotate.spec_for(smap, "rabbitmq-app-password"), smap, "dev")
    for _title, check in checks:
        check()
    assert calls == ["notifications", "rabbitmq", "users"]


def test_failed_smoke_subset_rolls_the_rotation_back(
    seeded, smap, fake_kube, rabbit_user, rabbitmq_api, monkeypatch
):
    calls: list[str] = []
    _with_smoke_suite(monkeypatch, calls, 7)
    allow_env(monkeypatch, seeded.env)
    user, old = rabbit_user
    settings = _settings(rabbitmq_api)
    plan = _plan(seeded, smap, fake_kube, user, old, settings)
    plan.checks = rotate.checks_for(plan.spec, smap, seeded.env)
    with pytest.raises(PlatformError, match="smoke subset for notifications failed") as exc:
        rotate.run(plan, seeded, lambda _line: None)
    assert exc.value.exit_code == 7 and calls == ["notifications"]
    assert seeded.read("rabbitmq").data["password"] == old
    assert rabbitmq.authenticates(settings, user, old)

"""Behaviour of the microservice chart's switches: ingress kind, checksums, TLS wiring, migration hook."""

from __future__ import annotations

import pytest

from tools.charts import render
from tools.charts.validate import validate_object

USERS = render.release("users")


def _kinds(docs: list[dict]) -> dict[str, dict]:
    return {o["kind"]: o for o in docs}


@pytest.mark.parametrize("env", render.ENVS)
def test_internal_port_has_its_own_service_that_no_ingress_routes(rendered, env):
    """users' credential check is served on port 8081 only, by construction: the Service users-internal
    exposes just that port, and the ingress routes the API prefix to Service users port 8080."""
    docs = rendered[("users", env)]
    services = {o["metadata"]["name"]: o for o in docs if o["kind"] == "Service"}
    assert [p["port"] for p in services["users"]["spec"]["ports"]] == [8080]
    assert [(p["port"], p["targetPort"]) for p in services["users-internal"]["spec"]["ports"]] == [
        (8081, "internal")
    ]
    route = _kinds(docs)["IngressRoute"]["spec"]["routes"]
    assert [(s["name"], s["port"]) for r in route for s in r["services"]] == [("users", 8080)]
    assert "!PathPrefix" not in route[0]["match"]  # no path rule needed any more
    container = _kinds(docs)["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 8080, "internal": 8081}
    config = _kinds(docs)["ConfigMap"]["data"]
    assert config["USERS_INTERNAL_PORT"] == "8081"
    for rel in ("auth", "notifications"):
        assert not [o for o in rendered[(rel, env)] if o["metadata"]["name"].endswith("-internal")], rel


@pytest.mark.parametrize("env", render.ENVS)
def test_admin_secret_is_mounted_into_the_migration_job_only(rendered, env):
    docs = rendered[("users", env)]
    job = next(o for o in docs if o["kind"] == "Job")["spec"]["template"]["spec"]
    deployment = _kinds(docs)["Deployment"]["spec"]["template"]["spec"]
    secrets_of = lambda pod: {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}  # noqa: E731
    assert secrets_of(job) == {"users-db", "users-admin"}  # not rabbitmq-app (`migration: false`)
    assert secrets_of(deployment) == {"users-db", "rabbitmq-app"}


def test_plain_ingress_switch():
    docs = _kinds(render.render(USERS, "staging", extra=["--set", "ingress.kind=Ingress"]))
    assert "IngressRoute" not in docs
    ingress = docs["Ingress"]
    for version in render.versions()["kubernetes"]["validate"]:
        validate_object(ingress, version)
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "api.staging.platform.example.com"
    assert rule["http"]["paths"][0]["path"] == "/users-ms"
    assert ingress["spec"]["tls"][0]["secretName"] == "api-tls"
    assert ingress["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"] == (
        "apps-security-headers@kubernetescrd,apps-rate-limit@kubernetescrd"
    )


def _pod_annotations(docs: list[dict]) -> dict[str, str]:
    return _kinds(docs)["Deployment"]["spec"]["template"]["metadata"]["annotations"]


def test_changed_setting_or_secret_rolls_the_pods():
    base = _pod_annotations(render.render(USERS, "dev"))
    setting = _pod_annotations(
        render.render(USERS, "dev", extra=["--set-string", "settings.USERS_BCRYPT_ROUNDS=13"])
    )
    secret = _pod_annotations(render.render(USERS, "dev", extra=["--set-string", "secretChecksum=changed"]))
    assert setting["checksum/config"] != base["checksum/config"]
    assert setting["checksum/secret"] == base["checksum/secret"]
    assert secret["checksum/secret"] == "changed" != base["checksum/secret"]


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_tls_certificate_covers_the_routes(rendered, env):
    cert = next(o for o in rendered[("platform", env)] if o["kind"] == "Certificate")
    for rel in ("users", "auth", "notifications"):
        route = _kinds(rendered[(rel, env)])["IngressRoute"]
        assert route["spec"]["tls"] == {"secretName": cert["spec"]["secretName"]}
        host = route["spec"]["routes"][0]["match"].split("`")[1]
        assert host in cert["spec"]["dnsNames"]
        assert cert["metadata"]["namespace"] == render.release(rel).namespace


def test_dev_uses_traefik_default_certificate(rendered):
    assert not [o for o in rendered[("platform", "dev")] if o["kind"] in {"Certificate", "ClusterIssuer"}]
    route = _kinds(rendered[("users", "dev")])["IngressRoute"]
    assert route["spec"]["tls"] == {}


def test_migration_job_is_a_pre_upgrade_hook(rendered):
    docs = rendered[("users", "prod")]
    job = next(o for o in docs if o["kind"] == "Job")
    assert job["metadata"]["name"] == "users-migrate"
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["USERS_DB_PASSWORD_FILE"] == "/var/run/secrets/platform/users-db/password"
    hook_policy = next(
        o for o in docs if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "users-migrate"
    )
    assert int(hook_policy["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        job["metadata"]["annotations"]["helm.sh/hook-weight"]
    )
    for rel in ("auth", "notifications"):
        assert not [o for o in rendered[(rel, "prod")] if o["kind"] == "Job"]


def test_service_account_without_token(rendered):
    for rel in ("users", "auth", "notifications"):
        sa = _kinds(rendered[(rel, "prod")])["ServiceAccount"]
        assert sa["automountServiceAccountToken"] is False


def test_terminating_pods_keep_serving_until_the_service_rules_drop_them(rendered):
    """preStop sleep: endpoints and kube-proxy rules drop the pod before SIGTERM stops its listener."""
    for rel in ("users", "auth", "notifications"):
        pod = _kinds(rendered[(rel, "prod")])["Deployment"]["spec"]["template"]["spec"]
        command = pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
        assert command[0] == "sleep" and 0 < int(command[1]) < pod["terminationGracePeriodSeconds"] / 2
    docs = render.render(USERS, "dev", extra=["--set", "preStopSleepSeconds=0"])
    assert "lifecycle" not in _kinds(docs)["Deployment"]["spec"]["template"]["spec"]["containers"][0]

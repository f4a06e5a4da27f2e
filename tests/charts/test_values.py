"""values/: a file per release and env, no secret values, upstream keys documented, no repeated pins."""

from __future__ import annotations

import re

import pytest
import yaml

from tools.charts import render

ALL_RELEASES = [r.name for r in render.RELEASES] + list(render.UPSTREAM)
SECRET_KEY = re.compile(r"(password|passwd|secret|token|private|credential|access.?key|cookie)", re.I)
# Keys that name a Secret, a key inside one or a file, never hold one (userKey/passwordKey: the keys of an
# existingSecret, as the grafana chart's `admin`; `secrets`: names of Secrets to mount, as
# alertmanager.alertmanagerSpec.secrets).
REFERENCE_KEY = re.compile(
    r"(existingSecret|_FILE|secretName|tlsSecretName|secretMounts|secretChecksum|userKey|passwordKey|^secrets)$"
)


def _files() -> list:
    return sorted(render.VALUES.glob("*/*.yaml"))


@pytest.mark.parametrize("release", ALL_RELEASES)
def test_file_per_release_and_env(release):
    for folder in ("common", *render.ENVS):
        path = render.VALUES / folder / f"{release}.yaml"
        assert path.is_file(), path
        assert isinstance(yaml.safe_load(path.read_text()), dict), path


def _walk(node: object, path: str = ""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")
    else:
        yield path, node


@pytest.mark.parametrize("path", _files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_secret_values(path):
    for key, value in _walk(yaml.safe_load(path.read_text())):
        leaf = re.sub(r"\[\d+\]$", "", key).rsplit(".", 1)[-1]
        if SECRET_KEY.search(leaf) and not REFERENCE_KEY.search(leaf) and value not in (None, "", False):
            raise AssertionError(f"{path}: {key} looks like a secret value")


@pytest.mark.parametrize("path", _files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_version_repeated(path):
    """Chart and image versions live in versions.yaml only."""
    text = path.read_text()
    pins = [c["version"] for c in render.versions()["charts"].values()]
    pins += [i["tag"] for i in render.versions()["images"].values()]
    assert not [p for p in pins if re.search(rf"(?<![\w.]){re.escape(p)}(?![\w.])", text)]
    assert "latest" not in text


@pytest.mark.parametrize("release", render.UPSTREAM)
def test_upstream_common_values_document_relied_on_keys(release):
    """Upstream charts cannot be fetched here: the keys we rely on are named in the header comment."""
    text = (render.VALUES / "common" / f"{release}.yaml").read_text()
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    assert "versions.yaml" in header
    assert "Keys relied on" in header or "keys relied on" in header.lower()
    keys = set()
    for folder in ("common", *render.ENVS):
        keys |= set(yaml.safe_load((render.VALUES / folder / f"{release}.yaml").read_text()))
    for key in keys:
        assert re.search(rf"(?<![\w.]){re.escape(key)}\b", header), f"{release}: key {key!r} not documented"


def test_dev_sizes_small_and_single(rendered):
    for rel in ("users", "auth", "notifications", "rabbitmq"):
        for obj in rendered[(rel, "dev")]:
            if obj["kind"] in {"Deployment", "StatefulSet"}:
                assert obj["spec"]["replicas"] == 1, rel


def test_staging_two_replicas(rendered):
    for rel in ("users", "auth", "notifications", "rabbitmq"):
        workload = next(o for o in rendered[(rel, "staging")] if o["kind"] in {"Deployment", "StatefulSet"})
        assert workload["spec"]["replicas"] == 2, rel


def test_service_settings_match_the_contract(rendered):
    """The ConfigMaps carry exactly the settings docs/architecture.md lists per service."""
    contract = {
        "users": {
            "USERS_DB_HOST",
            "USERS_DB_PORT",
            "USERS_DB_NAME",
            "USERS_DB_USER",
            "USERS_DB_PASSWORD_FILE",
            "USERS_BCRYPT_ROUNDS",
            "USERS_INTERNAL_PORT",
            "USERS_JWKS_URL",
            "USERS_JWT_ISSUER",
            "USERS_JWT_AUDIENCE",
            "USERS_ADMIN_EMAIL_FILE",
            "USERS_ADMIN_PASSWORD_FILE",
            "USERS_RABBITMQ_HOST",
            "USERS_RABBITMQ_PORT",
            "USERS_RABBITMQ_VHOST",
            "USERS_RABBITMQ_USERNAME_FILE",
            "USERS_RABBITMQ_PASSWORD_FILE",
            "USERS_OUTBOX_MAX_PENDING",
        },
        "auth": {
            "AUTH_USERS_URL",
            "AUTH_JWT_KEYSET_FILE",
            "AUTH_JWT_TTL_SECONDS",
            "AUTH_JWT_ISSUER",
            "AUTH_JWT_AUDIENCE",
            "AUTH_TRUSTED_PROXIES",
        },
        "notifications": {
            f"NOTIFICATIONS_{k}"
            for k in (
                "RABBITMQ_HOST",
                "RABBITMQ_PORT",
                "RABBITMQ_VHOST",
                "RABBITMQ_USERNAME_FILE",
                "RABBITMQ_PASSWORD_FILE",
                "S3_ENDPOINT",
                "S3_REGION",
                "S3_BUCKET",
                "S3_ACCESS_KEY_FILE",
                "S3_SECRET_KEY_FILE",
                "PREFETCH",
                "MAX_DELIVERIES",
                "JWKS_URL",
                "JWT_ISSUER",
                "JWT_AUDIENCE",
            )
        },
    }
    for rel, keys in contract.items():
        cm = next(o for o in rendered[(rel, "prod")] if o["kind"] == "ConfigMap")
        prefix = rel.upper()
        assert set(cm["data"]) == keys | {f"{prefix}_PORT", f"{prefix}_LOG_LEVEL"}, rel
    auth = next(o for o in rendered[("auth", "dev")] if o["kind"] == "ConfigMap")["data"]
    assert auth["AUTH_USERS_URL"] == "http://users-internal.apps.svc.cluster.local:8081"
    # the ingress's pod network is a trusted proxy for the login limits (kind's pods; the VPC on EKS)
    assert auth["AUTH_TRUSTED_PROXIES"] == "10.244.0.0/16"
    prod = next(o for o in rendered[("auth", "prod")] if o["kind"] == "ConfigMap")["data"]
    assert prod["AUTH_TRUSTED_PROXIES"] == "10.40.0.0/16"

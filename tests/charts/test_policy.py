"""Policy checks over every rendered object: Pod Security "restricted", resources, probes, images,
Secrets, PDBs, rollout strategy, NetworkPolicies for every documented edge."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from tests.charts.netpol import Pod, connection_allowed, isolated
from tools.charts import render

WORKLOADS = {"Deployment", "StatefulSet", "Job"}
OWN_IMAGES = {"users", "auth", "notifications"}


def pods(all_objects) -> Iterator[tuple[str, str, dict, dict]]:
    """(release, env, workload, pod template) for every workload (a CronJob's: its job template's)."""
    for rel, env, obj in all_objects:
        if obj["kind"] in WORKLOADS:
            yield rel, env, obj, obj["spec"]["template"]
        elif obj["kind"] == "CronJob":
            yield rel, env, obj, obj["spec"]["jobTemplate"]["spec"]["template"]


def containers(template: dict) -> list[dict]:
    spec = template["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def _where(rel: str, env: str, obj: dict) -> str:
    return f"{rel}/{env} {obj['kind']}/{obj['metadata']['name']}"


def test_pod_security_restricted(all_objects):
    errors = []
    for rel, env, obj, tpl in pods(all_objects):
        pod_sc = tpl["spec"].get("securityContext", {})
        if (
            pod_sc.get("runAsNonRoot") is not True
            or pod_sc.get("seccompProfile", {}).get("type") != "RuntimeDefault"
        ):
            errors.append(f"{_where(rel, env, obj)}: pod securityContext")
        if tpl["spec"].get("automountServiceAccountToken") is not False:
            errors.append(f"{_where(rel, env, obj)}: service account token mounted")
        for c in containers(tpl):
            sc = c.get("securityContext", {})
            ok = (
                sc.get("allowPrivilegeEscalation") is False
                and sc.get("readOnlyRootFilesystem") is True
                and sc.get("capabilities", {}).get("drop") == ["ALL"]
                and not sc.get("capabilities", {}).get("add")
                and not sc.get("privileged")
                and sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True
                and sc.get("runAsUser", pod_sc.get("runAsUser", 0)) != 0
            )
            if not ok:
                errors.append(f"{_where(rel, env, obj)} container {c['name']}: securityContext {sc}")
    assert not errors, "\n".join(errors)


def test_own_images_run_as_uid_1000(all_objects):
    for rel, env, obj, tpl in pods(all_objects):
        if rel in OWN_IMAGES:
            assert tpl["spec"]["securityContext"]["runAsUser"] == 1000, _where(rel, env, obj)


def test_requests_and_limits(all_objects):
    errors = []
    for rel, env, obj, tpl in pods(all_objects):
        for c in containers(tpl):
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(res.get(part, {})):
                    errors.append(f"{_where(rel, env, obj)} {c['name']}: {part} {res.get(part)}")
    assert not errors, "\n".join(errors)


def test_three_probes_on_long_running_containers(all_objects):
    for rel, env, obj, tpl in pods(all_objects):
        if obj["kind"] in ("Job", "CronJob"):
            continue
        for c in tpl["spec"]["containers"]:
            missing = [p for p in ("startupProbe", "livenessProbe", "readinessProbe") if p not in c]
            assert not missing, f"{_where(rel, env, obj)} {c['name']}: missing {missing}"


def test_images_pinned_from_versions_yaml(all_objects):
    images = render.versions()["images"]
    for rel, env, obj, tpl in pods(all_objects):
        names = [render.release(rel).image, *render.COMPANION_IMAGES.get(rel, {})]  # e.g. pgbackup
        allowed = {f"{images[n]['repository']}:{images[n]['tag']}" for n in names}
        for c in containers(tpl):
            assert c["image"] in allowed, _where(rel, env, obj)
            assert c["imagePullPolicy"] == "IfNotPresent", _where(rel, env, obj)
            assert not c["image"].endswith(":latest")


def test_no_secret_is_rendered(all_objects):
    secrets = [_where(rel, env, obj) for rel, env, obj in all_objects if obj["kind"] == "Secret"]
    assert not secrets


def test_secret_files_mode_and_checksum(all_objects):
    for rel, env, obj, tpl in pods(all_objects):
        fixture = yaml.safe_load((render.GENERATED / f"{rel}.yaml").read_text())
        assert tpl["metadata"]["annotations"]["checksum/secret"] == fixture["secretChecksum"]
        for vol in tpl["spec"].get("volumes", []):
            if "secret" in vol:
                mode = vol["secret"]["defaultMode"]
                assert mode & ~0o440 == 0, f"{_where(rel, env, obj)}: mode {oct(mode)}"
        for c in containers(tpl):
            for mount in c.get("volumeMounts", []):
                if mount["name"].startswith(("secret-", "credentials")):
                    assert mount["mountPath"].startswith("/var/run/secrets/platform/")
                    assert mount.get("readOnly") is True


def test_service_settings_mount_the_documented_secrets(rendered):
    """Each *_FILE setting points into a mounted Secret directory of the pods that read it (the users
    admin's files: of the migration Job, which alone seeds the admin account)."""
    job_only = {"USERS_ADMIN_EMAIL_FILE", "USERS_ADMIN_PASSWORD_FILE"}
    for rel in OWN_IMAGES:
        docs = rendered[(rel, "prod")]
        cm = next(o for o in docs if o["kind"] == "ConfigMap")
        dep = next(o for o in docs if o["kind"] == "Deployment")
        job = next((o for o in docs if o["kind"] == "Job"), dep)
        pod_mounts = {
            kind: {m["mountPath"] for m in obj["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
            for kind, obj in (("dep", dep), ("job", job))
        }
        for key, value in cm["data"].items():
            if key.endswith("_FILE"):
                mounts = pod_mounts["job" if key in job_only else "dep"]
                assert value.rsplit("/", 1)[0] in mounts, f"{rel}: {key}={value}"
        assert cm["data"][f"{rel.upper()}_PORT"] == "8080"


def _replicas(obj: dict, docs: list[dict]) -> int:
    hpa = [
        h
        for h in docs
        if h["kind"] == "HorizontalPodAutoscaler"
        and h["spec"]["scaleTargetRef"]["name"] == obj["metadata"]["name"]
    ]
    return max(h["spec"]["maxReplicas"] for h in hpa) if hpa else obj["spec"].get("replicas", 1)


def test_pdb_and_spreading_when_more_than_one_replica(rendered):
    for (rel, env), docs in rendered.items():
        pdbs = [o for o in docs if o["kind"] == "PodDisruptionBudget"]
        for obj in docs:
            if obj["kind"] not in {"Deployment", "StatefulSet"} or _replicas(obj, docs) <= 1:
                continue
            labels = obj["spec"]["template"]["metadata"]["labels"]
            covering = [
                p
                for p in pdbs
                if all(labels.get(k) == v for k, v in p["spec"]["selector"]["matchLabels"].items())
            ]
            assert covering, f"{_where(rel, env, obj)}: no PDB"
            spec = obj["spec"]["template"]["spec"]
            assert spec.get("topologySpreadConstraints") or spec.get("affinity", {}).get("podAntiAffinity"), (
                rel
            )


def test_deployments_roll_without_unavailability(all_objects):
    for rel, env, obj in all_objects:
        if obj["kind"] == "Deployment":
            strategy = obj["spec"]["strategy"]
            assert strategy["type"] == "RollingUpdate", _where(rel, env, obj)
            assert strategy == {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            }, rel


def test_prod_hpa_matches_seed_003(rendered):
    for rel in OWN_IMAGES:
        hpa = next(o for o in rendered[(rel, "prod")] if o["kind"] == "HorizontalPodAutoscaler")["spec"]
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 200)
        targets = {
            m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]
        }
        assert targets == {"cpu": 70, "memory": 80}
        up, down = hpa["behavior"]["scaleUp"], hpa["behavior"]["scaleDown"]
        assert up["selectPolicy"] == "Max" and down["selectPolicy"] == "Max"
        assert {(p["type"], p["value"], p["periodSeconds"]) for p in up["policies"]} == {
            ("Percent", 100, 30),
            ("Pods", 5, 30),
        }
        assert {(p["type"], p["value"], p["periodSeconds"]) for p in down["policies"]} == {
            ("Percent", 50, 60),
            ("Pods", 2, 60),
        }
        assert down["stabilizationWindowSeconds"] == 300
    for env in ("dev", "staging"):
        assert not [o for o in rendered[("users", env)] if o["kind"] == "HorizontalPodAutoscaler"]


# ---- NetworkPolicies -------------------------------------------------------------------------------

# Upstream pods are not rendered here; these are the upstream charts' default pod labels (a stand-in).
TRAEFIK = Pod("ingress", {"app.kubernetes.io/name": "traefik"})
PROMETHEUS = Pod("monitoring", {"app.kubernetes.io/name": "prometheus"})
KUBE_DNS = Pod("kube-system", {"k8s-app": "kube-dns"})


def policies_for(rendered, env: str) -> list[dict]:
    out = []
    for rel in render.RELEASES:
        for obj in rendered[(rel.name, env)]:
            if obj["kind"] == "NetworkPolicy":
                obj = {**obj, "metadata": {**obj["metadata"]}}
                obj["metadata"].setdefault("namespace", rel.namespace)
                out.append(obj)
    return out


def pod_of(rendered, env: str, rel: str, kind: str = "Deployment") -> Pod:
    obj = next(o for o in rendered[(rel, env)] if o["kind"] in {kind, "StatefulSet"})
    return Pod(render.release(rel).namespace, obj["spec"]["template"]["metadata"]["labels"])


EDGES = [
    ("users", "postgresql", 5432),
    ("users-migrate", "postgresql", 5432),
    ("auth", "users", 8081),
    ("users", "auth", 8080),
    ("notifications", "auth", 8080),
    ("users", "rabbitmq", 5672),  # the login-event outbox relay
    ("notifications", "rabbitmq", 5672),
    ("notifications", "minio", 9000),
    ("traefik", "users", 8080),
    ("traefik", "auth", 8080),
    ("traefik", "notifications", 8080),
    ("prometheus", "users", 8080),
    ("prometheus", "auth", 8080),
    ("prometheus", "notifications", 8080),
    ("prometheus", "rabbitmq", 15692),
    ("prometheus", "minio", 9000),
]
DENIED = [
    ("notifications", "postgresql", 5432),
    ("auth", "postgresql", 5432),
    ("auth", "rabbitmq", 5672),  # login events go through users' outbox
    ("users-migrate", "rabbitmq", 5672),
    ("users", "minio", 9000),
    ("traefik", "postgresql", 5432),
    ("auth", "notifications", 8080),
    # users' internal port (credential check): auth only, never the ingress or anyone else
    ("traefik", "users", 8081),
    ("notifications", "users", 8081),
    ("prometheus", "users", 8081),
    ("auth", "users", 8080),
]


def _pod(rendered, env: str, name: str) -> Pod:
    fixed = {"traefik": TRAEFIK, "prometheus": PROMETHEUS}
    if name in fixed:
        return fixed[name]
    if name == "users-migrate":
        return pod_of(rendered, env, "users", kind="Job")
    return pod_of(rendered, env, name)


@pytest.mark.parametrize("env", render.ENVS)
def test_default_deny_in_every_namespace(rendered, env):
    policies = policies_for(rendered, env)
    namespaces = {r.namespace for r in render.RELEASES} | {"ingress", "monitoring"}
    for ns in namespaces:
        deny = [
            p
            for p in policies
            if p["metadata"]["namespace"] == ns
            and p["spec"]["podSelector"] == {}
            and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress")
            and not p["spec"].get("egress")
        ]
        assert deny, f"{env}: no default-deny in {ns}"
        assert connection_allowed(policies, Pod(ns, {"x": "y"}), KUBE_DNS, 53, "UDP"), f"{env}: DNS from {ns}"
        if ns != "monitoring":  # the monitoring stack talks freely inside its namespace (allow-monitoring)
            assert not connection_allowed(policies, Pod(ns, {"x": "y"}), Pod(ns, {"y": "z"}), 80), ns


@pytest.mark.parametrize("env", render.ENVS)
def test_documented_edges_allowed(rendered, env):
    policies = policies_for(rendered, env)
    for src, dst, port in EDGES:
        assert connection_allowed(policies, _pod(rendered, env, src), _pod(rendered, env, dst), port), (
            f"{env}: {src} -> {dst}:{port} blocked"
        )


@pytest.mark.parametrize("env", render.ENVS)
def test_undocumented_edges_denied(rendered, env):
    policies = policies_for(rendered, env)
    for src, dst, port in DENIED:
        assert not connection_allowed(policies, _pod(rendered, env, src), _pod(rendered, env, dst), port), (
            f"{env}: {src} -> {dst}:{port} allowed"
        )
    assert isolated(policies, _pod(rendered, env, "postgresql"), "Ingress")


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_acme_solver_reachable_from_traefik(rendered, env):
    solver = Pod("apps", {"acme.cert-manager.io/http01-solver": "true"})
    policies = policies_for(rendered, env)
    assert connection_allowed(policies, TRAEFIK, solver, 8089)
    assert not connection_allowed(policies, _pod(rendered, env, "auth"), solver, 8089)

"""MinIO grows by server pools: appending a pool keeps the existing StatefulSets and PVC names."""

from __future__ import annotations

import json

from tools.charts import render

POOL_0 = {"name": "pool-0", "servers": 4, "drivesPerServer": 2, "size": "10Gi"}
POOL_1 = {"name": "pool-1", "servers": 4, "drivesPerServer": 1, "size": "20Gi"}


def _render(pools: list[dict]) -> list[dict]:
    extra = ["--set", "mode=distributed", "--set-json", f"pools={json.dumps(pools)}"]
    return render.render(render.release("minio"), "staging", extra=extra)


def _statefulsets(docs: list[dict]) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in docs if o["kind"] == "StatefulSet"}


def _pvc_names(sts: dict) -> set[str]:
    """The PVC names Kubernetes derives: <claim template>-<statefulset>-<ordinal>."""
    name = sts["metadata"]["name"]
    return {
        f"{t['metadata']['name']}-{name}-{i}"
        for t in sts["spec"]["volumeClaimTemplates"]
        for i in range(sts["spec"]["replicas"])
    }


def _server_args(sts: dict) -> list[str]:
    return [a for a in sts["spec"]["template"]["spec"]["containers"][0]["args"] if a.startswith("http")]


def test_adding_a_pool_keeps_existing_names():
    before = _statefulsets(_render([POOL_0]))
    after = _statefulsets(_render([POOL_0, POOL_1]))
    assert set(before) == {"minio-pool-0"}
    assert set(after) == {"minio-pool-0", "minio-pool-1"}
    old, new = before["minio-pool-0"], after["minio-pool-0"]
    assert (
        _pvc_names(old)
        == _pvc_names(new)
        == {f"data{d}-minio-pool-0-{i}" for d in range(2) for i in range(4)}
    )
    assert old["spec"]["selector"] == new["spec"]["selector"]
    assert old["spec"]["volumeClaimTemplates"] == new["spec"]["volumeClaimTemplates"]
    assert old["spec"]["serviceName"] == new["spec"]["serviceName"]


def test_every_server_lists_every_pool():
    after = _statefulsets(_render([POOL_0, POOL_1]))
    expected = [
        "http://minio-pool-0-{0...3}.minio-hl.data.svc.cluster.local:9000/export/data{0...1}",
        "http://minio-pool-1-{0...3}.minio-hl.data.svc.cluster.local:9000/export/data0",
    ]
    for sts in after.values():
        assert _server_args(sts) == expected


def test_pool_change_rolls_the_servers():
    """The server command is part of the pod template, so adding a pool restarts every server with it."""
    before = _statefulsets(_render([POOL_0]))["minio-pool-0"]
    after = _statefulsets(_render([POOL_0, POOL_1]))["minio-pool-0"]
    key = "checksum/config"
    assert (
        before["spec"]["template"]["metadata"]["annotations"][key]
        != after["spec"]["template"]["metadata"]["annotations"][key]
    )


def test_standalone_dev_has_one_drive(rendered):
    sts = _statefulsets(rendered[("minio", "dev")])
    assert list(sts) == ["minio-standalone"]
    only = sts["minio-standalone"]
    assert only["spec"]["replicas"] == 1
    assert "/export/data0" in only["spec"]["template"]["spec"]["containers"][0]["args"]


def test_env_sizing(rendered):
    staging = _statefulsets(rendered[("minio", "staging")])
    assert [(s["spec"]["replicas"], len(s["spec"]["volumeClaimTemplates"])) for s in staging.values()] == [
        (4, 1)
    ]
    prod = _statefulsets(rendered[("minio", "prod")])
    assert all(s["spec"]["replicas"] >= 4 for s in prod.values())


def test_distributed_without_pools_fails_clearly():
    try:
        _render([])
    except render.RenderError as exc:
        assert "pools" in str(exc)
    else:
        raise AssertionError("distributed mode without pools rendered")


def test_console_off_by_default(rendered):
    for env in render.ENVS:
        for sts in _statefulsets(rendered[("minio", env)]).values():
            container = sts["spec"]["template"]["spec"]["containers"][0]
            env_vars = {e["name"]: e.get("value") for e in container["env"]}
            assert env_vars["MINIO_BROWSER"] == "off"
            assert not any(a.startswith("--console-address") for a in container["args"])

"""The kind ingress: host ports 80/443 of the control plane reach Traefik's fixed NodePorts.

One source: values/dev/traefik.yaml sets `ports.web.nodePort`/`ports.websecure.nodePort` (traefik chart
v37.3.0 renders them into the Service in templates/_service.tpl, `nodePort: {{ $config.nodePort }}`);
stacks/cluster reads that file with yamldecode and passes the numbers to modules/cluster-kind as the
container ports of the control plane's extra_port_mappings. The providers cannot run here, so the
Terraform side is checked by parsing; the numbers themselves may only appear in the values file.
"""

from __future__ import annotations

import re

import yaml
from platformctl.config import environments

from tests.terraform.tfkit import (
    REPO_ROOT,
    TERRAFORM_DIR,
    blocks,
    parse_hcl,
    resources,
    terraform_tree,
    unwrap,
    where,
)

VALUES = REPO_ROOT / "values" / "dev" / "traefik.yaml"


def node_ports() -> dict[str, int]:
    ports = yaml.safe_load(VALUES.read_text())["ports"]
    return {"http": ports["web"]["nodePort"], "https": ports["websecure"]["nodePort"]}


def test_dev_traefik_has_fixed_node_ports() -> None:
    values = yaml.safe_load(VALUES.read_text())
    assert values["service"]["type"] == "NodePort", f"{where(VALUES)}: service.type"
    ports = node_ports()
    assert ports == {"http": 30080, "https": 30443}, f"{where(VALUES)}: {ports}"
    assert all(30000 <= p <= 32767 for p in ports.values()), "NodePorts must be in 30000-32767"


def test_cluster_stack_reads_the_node_ports_from_the_values_file() -> None:
    stack = TERRAFORM_DIR / "stacks" / "cluster"
    text = (stack / "main.tf").read_text()
    assert 'yamldecode(file("${path.root}/../../../values/${var.env}/traefik.yaml"))' in text, (
        "stacks/cluster must read values/<env>/traefik.yaml with yamldecode"
    )
    kind = next(body for _, name, body in blocks(stack, "module") if name == "kind")
    given = unwrap(kind["ingress_node_ports"])
    assert "ports.web.nodePort" in given and "ports.websecure.nodePort" in given, given
    tfvars = parse_hcl(TERRAFORM_DIR / "envs" / "dev" / "cluster.tfvars")
    dev = (tfvars["env"], environments.get("dev").cluster_type)
    assert dev == ("dev", "kind"), "dev reads values/dev/traefik.yaml"


def test_kind_maps_host_ports_to_the_node_ports() -> None:
    module = TERRAFORM_DIR / "modules" / "cluster-kind"
    ((_, _, cluster),) = resources(module, "kind_cluster")
    node = cluster["kind_config"][0]["node"][0]
    mappings = {unwrap(m["host_port"]): unwrap(m["container_port"]) for m in node["extra_port_mappings"]}
    assert mappings == {
        "var.ingress_http_port": "var.ingress_node_ports.http",
        "var.ingress_https_port": "var.ingress_node_ports.https",
    }, mappings
    variables = {name: body for _, name, body in blocks(module, "variable")}
    typed = re.sub(r"\s", "", unwrap(variables["ingress_node_ports"]["type"]))
    assert "http=number" in typed and "https=number" in typed, typed
    conditions = " ".join(unwrap(v["condition"]) for v in variables["ingress_node_ports"]["validation"])
    assert "30000" in conditions and "32767" in conditions, conditions


def test_node_ports_live_only_in_the_values_file() -> None:
    for path in terraform_tree((".tf", ".tfvars")):
        for port in node_ports().values():
            assert not re.search(rf"\b{port}\b", path.read_text()), f"{where(path)}: repeats NodePort {port}"

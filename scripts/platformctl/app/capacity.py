"""Capacity model: what the releases of an env ask for in each namespace, against its quota and LimitRange.

Per guarded namespace (values/<env>/platform.yaml `namespaces`, rendered by charts/platform):
steady state = every planned release's pods at their maximum (replicas, or the HPA maximum where one
applies; a DaemonSet's pod per node), plus the largest transient need (the surge pods of one rolling
update, or one Helm hook Job). That sum must fit the ResourceQuota; every container's limits must fit the
LimitRange max. Containers without requests/limits get the LimitRange defaults, as the API server does.

Own charts come from their rendered manifests; upstream releases from their values and the chart
defaults in values/upstream-workloads.yaml. `python -m platformctl.app.capacity --write` regenerates
docs/capacity.md; tests/charts/test_capacity.py checks the model and that the doc is current.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from platformctl.config import configfile, environments
from platformctl.config.paths import repo_root
from platformctl.config.release import Release
from platformctl.errors import ConfigError

ENVS = environments.names()
RESOURCES = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "pods")
QUOTA_KEYS = {
    "requests.cpu": "requestsCpu",
    "requests.memory": "requestsMemory",
    "limits.cpu": "limitsCpu",
    "limits.memory": "limitsMemory",
    "pods": "pods",
}
DATA_FILE = Path("values") / "upstream-workloads.yaml"
DOC_FILE = Path("docs") / "capacity.md"
# Kubernetes' default maxSurge for a Deployment whose strategy does not say.
DEFAULT_SURGE = "25%"
HOOK_KINDS = ("Job",)
POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob")
Amounts = dict[str, int]  # resource name -> millicores (cpu), bytes (memory) or a count (pods)

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
_MEMORY_UNITS = {**_BINARY, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}


# --- quantities -------------------------------------------------------------------------------------------


def cpu_milli(value: object) -> int:
    """A CPU quantity ("250m", "2", 0.5) in millicores."""
    text = str(value).strip()
    if text.endswith("m"):
        return math.ceil(float(text[:-1]))
    return math.ceil(float(text) * 1000)


def memory_bytes(value: object) -> int:
    """A memory quantity ("512Mi", "1G", 134217728) in bytes."""
    text = str(value).strip()
    match = re.fullmatch(r"([0-9.eE+-]+)([A-Za-z]*)", text)
    if not match or (match.group(2) and match.group(2) not in _MEMORY_UNITS):
        raise ConfigError(f"not a memory quantity: {value!r}")
    number, unit = match.groups()
    return math.ceil(float(number) * _MEMORY_UNITS.get(unit, 1))


def parse(kind: str, value: object) -> int:
    """A quantity of `kind` (cpu, memory, pods) in the model's units."""
    if kind == "cpu":
        return cpu_milli(value)
    if kind == "memory":
        return memory_bytes(value)
    return int(str(value))


def show(resource: str, amount: int) -> str:
    """An amount for people: cores, Mi/Gi, or a count."""
    if resource.endswith("cpu"):
        return f"{amount / 1000:g}" if amount % 1000 == 0 or amount >= 1000 else f"{amount}m"
    if resource.endswith("memory"):
        sign = "-" if amount < 0 else ""
        size = abs(amount)
        if size == 0:
            return "0"
        if size >= 2**30:
            return f"{sign}{size / 2**30:.3g}Gi"
        return f"{sign}{math.ceil(size / 2**20)}Mi"
    return str(amount)


# --- inputs -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Container:
    name: str
    requests: Mapping[str, int]  # cpu / memory, only what the pod spec sets
    limits: Mapping[str, int]
    init: bool = False


@dataclass(frozen=True)
class Workload:
    """Pods of one kind that a release runs in one namespace."""

    release: str
    namespace: str
    name: str  # Kind/name
    containers: tuple[Container, ...]
    pods: int  # at most, in steady state (replicas, HPA maximum, pods per node)
    surge: int  # extra pods while it rolls (a hook Job: its one pod, which only exists during a deploy)
    hpa_max: int | None = None


@dataclass(frozen=True)
class LimitRange:
    default_request: Mapping[str, int]
    default: Mapping[str, int]
    max: Mapping[str, int]


@dataclass(frozen=True)
class Guard:
    """A namespace's ResourceQuota and LimitRange (charts/platform templates/namespace-guards.yaml)."""

    namespace: str
    quota: Mapping[str, int]
    limits: LimitRange


def _amounts(raw: Mapping[str, Any] | None) -> dict[str, int]:
    return {kind: parse(kind, value) for kind, value in (raw or {}).items() if kind in ("cpu", "memory")}


def guards(platform_values: Mapping[str, Any]) -> dict[str, Guard]:
    """The guarded namespaces from the platform chart's merged values."""
    found = {}
    for ns in platform_values.get("namespaces") or []:
        quota = {res: parse(res.rsplit(".", 1)[-1], ns["quota"][key]) for res, key in QUOTA_KEYS.items()}
        limits = ns["limits"]
        lr = LimitRange(
            _amounts(limits["defaultRequest"]), _amounts(limits["default"]), _amounts(limits["max"])
        )
        found[ns["name"]] = Guard(ns["name"], quota, lr)
    return found


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's values merge: maps merge, anything else replaces, null removes the key."""
    out = dict(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load_values(files: Iterable[Path]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in files:
        if path.is_file():
            merged = merge(merged, yaml.safe_load(path.read_text()) or {})
    return merged


def node_count(env: str, root: Path) -> int:
    """Nodes a DaemonSet runs on at most: kind's control plane + workers, or the EKS node group's max."""
    text = (root / "terraform" / "envs" / env / "cluster.tfvars").read_text()

    def number(key: str) -> int | None:
        match = re.search(rf"^\s*{key}\s*=\s*(\d+)", text, re.MULTILINE)
        return int(match.group(1)) if match else None

    if (workers := number("kind_workers")) is not None:
        return 1 + workers
    if (max_size := number("max_size")) is not None:
        return max_size
    raise ConfigError(
        f"terraform/envs/{env}/cluster.tfvars sets neither kind_workers nor node_group.max_size"
    )


# --- workloads from rendered manifests (own charts) --------------------------------------------------------


def _container(raw: Mapping[str, Any], init: bool) -> Container:
    resources = raw.get("resources") or {}
    return Container(
        raw["name"], _amounts(resources.get("requests")), _amounts(resources.get("limits")), init
    )


def _pod_containers(pod_spec: Mapping[str, Any]) -> tuple[Container, ...]:
    return tuple(
        [_container(c, True) for c in pod_spec.get("initContainers") or []]
        + [_container(c, False) for c in pod_spec.get("containers") or []]
    )


def surge_pods(max_surge: object, pods: int) -> int:
    """Pods a rolling update adds: an absolute number, or a percentage of the pods rounded up."""
    if max_surge is None:
        max_surge = DEFAULT_SURGE
    text = str(max_surge)
    if text.endswith("%"):
        return math.ceil(int(text[:-1]) * pods / 100)
    return int(text)


def _is_test_hook(doc: Mapping[str, Any]) -> bool:
    hooks = ((doc.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook", "")
    return "test" in [h.strip() for h in hooks.split(",")]


def from_manifests(
    release: str, namespace: str, docs: Sequence[Mapping[str, Any]], nodes: int
) -> list[Workload]:
    """The pods an own chart's rendered manifest runs (HPA maximum applied; `helm test` pods left out)."""
    hpa_max = {
        (d["spec"]["scaleTargetRef"]["kind"], d["spec"]["scaleTargetRef"]["name"]): int(
            d["spec"]["maxReplicas"]
        )
        for d in docs
        if d.get("kind") == "HorizontalPodAutoscaler"
    }
    found = []
    for doc in docs:
        kind, spec = doc.get("kind"), doc.get("spec") or {}
        if kind not in (*POD_KINDS, *HOOK_KINDS) or _is_test_hook(doc):
            continue
        name = doc["metadata"]["name"]
        ns = doc["metadata"].get("namespace") or namespace
        template = (spec["jobTemplate"]["spec"] if kind == "CronJob" else spec)["template"]
        containers = _pod_containers(template["spec"])
        if kind == "CronJob":  # a scheduled run at any time, and a manual Job from its template beside it
            found.append(Workload(release, ns, f"{kind}/{name}", containers, pods=1, surge=1))
            continue
        if kind in HOOK_KINDS:
            found.append(Workload(release, ns, f"{kind}/{name}", containers, pods=0, surge=1))
            continue
        hpa = hpa_max.get((kind, name))
        replicas = nodes if kind == "DaemonSet" else int(spec.get("replicas", 1))
        pods = max(replicas, hpa or 0)
        surge = 0
        if kind == "Deployment":
            strategy = spec.get("strategy") or {}
            if strategy.get("type") != "Recreate":
                surge = surge_pods((strategy.get("rollingUpdate") or {}).get("maxSurge"), pods)
        found.append(Workload(release, ns, f"{kind}/{name}", containers, pods, surge, hpa))
    return found


# --- workloads from values (upstream charts) ---------------------------------------------------------------


def lookup(values: Mapping[str, Any], path: object) -> Any:
    """A dotted values path (a literal number passes through); None when a key is missing."""
    if not isinstance(path, str):
        return path
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _enabled(values: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    return all(bool(lookup(values, path)) for path in spec.get("when") or [])


def _declared_container(values: Mapping[str, Any], spec: Mapping[str, Any], init: bool) -> Container:
    resources = lookup(values, spec.get("resources")) or {}
    requests = _amounts(resources.get("requests"))
    for kind, value in _amounts(spec.get("operatorRequests")).items():
        requests.setdefault(kind, value)
    return Container(spec["name"], requests, _amounts(resources.get("limits")), init)


def from_values(
    release: str, namespace: str, chart: Mapping[str, Any], values: Mapping[str, Any], nodes: int
) -> list[Workload]:
    """The pods an upstream release runs, from the chart facts (values/upstream-workloads.yaml) and the
    release's values merged over the chart defaults."""
    merged = merge(chart.get("defaults") or {}, values)
    found = []
    for spec in chart["workloads"]:
        if not _enabled(merged, spec):
            continue
        kind = spec["kind"]
        containers = tuple(
            [
                _declared_container(merged, c, True)
                for c in spec.get("initContainers") or []
                if _enabled(merged, c)
            ]
            + [_declared_container(merged, c, False) for c in spec["containers"] if _enabled(merged, c)]
        )
        name = f"{kind}/{release}-{spec['name']}" if spec["name"] != release else f"{kind}/{release}"
        if kind in HOOK_KINDS:
            found.append(Workload(release, namespace, name, containers, pods=0, surge=1))
            continue
        hpa = spec.get("hpa") or {}
        hpa_max = int(lookup(merged, hpa["max"])) if hpa and lookup(merged, hpa["enabled"]) else None
        if kind == "DaemonSet":
            replicas = nodes
        else:
            replicas = int(lookup(merged, spec.get("replicas", 1)) or 0) * int(
                lookup(merged, spec.get("shards", 1)) or 1
            )
        pods = max(replicas, hpa_max or 0)
        surge = surge_pods(lookup(merged, spec.get("maxSurge")), pods) if kind == "Deployment" else 0
        found.append(Workload(release, namespace, name, containers, pods, surge, hpa_max))
    return found


# --- the model ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Effective:
    """A container's requests and limits after the LimitRange defaults; `defaulted`: it set some."""

    requests: Mapping[str, int]
    limits: Mapping[str, int]
    defaulted: bool


def effective(container: Container, lr: LimitRange) -> Effective:
    """What the API server stores: a limit without request makes the request equal to it; a missing limit
    or request takes the LimitRange `default` / `defaultRequest`."""
    requests, limits, defaulted = {}, {}, False
    for kind in ("cpu", "memory"):
        limit = container.limits.get(kind)
        if limit is None and kind in lr.default:
            limit, defaulted = lr.default[kind], True
        request = container.requests.get(kind, container.limits.get(kind))
        if request is None and kind in lr.default_request:
            request, defaulted = lr.default_request[kind], True
        requests[kind], limits[kind] = request or 0, limit or 0
    return Effective(requests, limits, defaulted)


def pod_amounts(workload: Workload, lr: LimitRange) -> Amounts:
    """One pod's quota charge: per resource, the larger of all app containers together and any init one."""
    out: Amounts = {"pods": 1}
    for side in ("requests", "limits"):
        for kind in ("cpu", "memory"):
            values = [(c.init, getattr(effective(c, lr), side)[kind]) for c in workload.containers]
            app = sum(v for init, v in values if not init)
            out[f"{side}.{kind}"] = max([app, *(v for init, v in values if init)])
    return out


@dataclass(frozen=True)
class Finding:
    env: str
    namespace: str
    resource: str
    release: str  # the release(s) at fault, comma-separated
    message: str
    check: str  # "quota" (the namespace's sum) or "limitrange" (one container)

    def __str__(self) -> str:
        return f"{self.env}/{self.namespace}: {self.message}"


@dataclass
class Usage:
    """One namespace of one env: steady pods at their maximum plus the largest transient need."""

    env: str
    guard: Guard
    steady: Amounts = field(default_factory=lambda: dict.fromkeys(RESOURCES, 0))
    transient: Amounts = field(default_factory=lambda: dict.fromkeys(RESOURCES, 0))
    transient_by: dict[str, str] = field(default_factory=dict)
    by_release: dict[str, Amounts] = field(default_factory=dict)
    defaulted: int = 0  # containers that get a LimitRange default
    containers: int = 0
    findings: list[Finding] = field(default_factory=list)

    def required(self, resource: str) -> int:
        return self.steady[resource] + self.transient[resource]

    def headroom(self, resource: str) -> int:
        return self.guard.quota[resource] - self.required(resource)


def _limitrange_findings(env: str, workload: Workload, lr: LimitRange) -> list[Finding]:
    found = []
    for container in workload.containers:
        eff = effective(container, lr)
        for kind in ("cpu", "memory"):
            where = f"{workload.release} {workload.name} container {container.name}"
            if kind in lr.max and eff.limits[kind] > lr.max[kind]:
                message = (
                    f"{where}: limits.{kind} {show(kind, eff.limits[kind])} is over the LimitRange max "
                    f"{show(kind, lr.max[kind])}; the API server refuses the pod"
                )
                found.append(
                    Finding(
                        env, workload.namespace, f"limits.{kind}", workload.release, message, "limitrange"
                    )
                )
            if eff.requests[kind] > eff.limits[kind] > 0:
                message = (
                    f"{where}: requests.{kind} {show(kind, eff.requests[kind])} is over its limit "
                    f"{show(kind, eff.limits[kind])} (LimitRange default); the API server refuses the pod"
                )
                found.append(
                    Finding(
                        env, workload.namespace, f"requests.{kind}", workload.release, message, "limitrange"
                    )
                )
    return found


def namespace_usage(env: str, guard: Guard, workloads: Iterable[Workload]) -> Usage:
    usage = Usage(env, guard)
    lr = guard.limits
    for workload in workloads:
        pod = pod_amounts(workload, lr)
        share = usage.by_release.setdefault(workload.release, dict.fromkeys(RESOURCES, 0))
        for resource in RESOURCES:
            usage.steady[resource] += pod[resource] * workload.pods
            share[resource] += pod[resource] * workload.pods
            if pod[resource] * workload.surge > usage.transient[resource]:
                usage.transient[resource] = pod[resource] * workload.surge
                usage.transient_by[resource] = f"{workload.release} {workload.name}"
        usage.containers += len(workload.containers)
        usage.defaulted += sum(effective(c, lr).defaulted for c in workload.containers)
        usage.findings += _limitrange_findings(env, workload, lr)
    for resource in RESOURCES:
        if usage.required(resource) > guard.quota[resource]:
            usage.findings.append(_quota_finding(usage, resource))
    return usage


def _quota_finding(usage: Usage, resource: str) -> Finding:
    shares = sorted(usage.by_release.items(), key=lambda item: -item[1][resource])
    parts = ", ".join(
        f"{name} {show(resource, amounts[resource])}" for name, amounts in shares if amounts[resource]
    )
    transient = usage.transient_by.get(resource, "none")
    message = (
        f"{resource} needs {show(resource, usage.required(resource))} "
        f"(steady {show(resource, usage.steady[resource])}: {parts or 'nothing'}; "
        f"+ {show(resource, usage.transient[resource])} while {transient} rolls) "
        f"but the ResourceQuota allows {show(resource, usage.guard.quota[resource])}"
    )
    releases = ",".join(name for name, amounts in shares if amounts[resource])
    return Finding(usage.env, usage.guard.namespace, resource, releases, message, "quota")


@dataclass
class EnvModel:
    env: str
    usages: dict[str, Usage]  # guarded namespace -> usage
    unguarded: dict[str, list[str]]  # namespace without a quota -> releases planned there

    @property
    def findings(self) -> list[Finding]:
        return [f for usage in self.usages.values() for f in usage.findings]


def chart_facts(root: Path) -> dict[str, Any]:
    return dict(yaml.safe_load((root / DATA_FILE).read_text())["charts"])


def build(
    env: str,
    releases: Sequence[Release],
    manifests: Callable[[Release], Sequence[Mapping[str, Any]]],
    root: Path,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> EnvModel:
    """The model of one env: `releases` is its release plan; `manifests` renders an own chart;
    `overrides` (release -> values) is layered last, for what-if checks."""
    overrides = overrides or {}
    facts = chart_facts(root)
    nodes = node_count(env, root)
    platform = next((r for r in releases if r.name == "platform"), None)
    if platform is None:
        raise ConfigError(f"the {env} release plan has no `platform` release, so no namespace is guarded")
    chart_defaults = yaml.safe_load((root / "charts" / "platform" / "values.yaml").read_text())
    platform_values = merge(chart_defaults, load_values(root / f for f in platform.values_files))
    guarded = guards(merge(platform_values, overrides.get("platform", {})))
    by_namespace: dict[str, list[Workload]] = {}
    for release in releases:
        if release.chart_path:
            found = from_manifests(release.name, release.namespace, manifests(release), nodes)
        else:
            if release.name not in facts:
                raise ConfigError(f"{DATA_FILE} has no entry for the upstream release {release.name}")
            values = merge(
                load_values(root / f for f in release.values_files), overrides.get(release.name, {})
            )
            found = from_values(release.name, release.namespace, facts[release.name], values, nodes)
        for workload in found:
            by_namespace.setdefault(workload.namespace, []).append(workload)
    usages = {ns: namespace_usage(env, guard, by_namespace.get(ns, [])) for ns, guard in guarded.items()}
    unguarded = {
        ns: sorted({w.release for w in workloads})
        for ns, workloads in by_namespace.items()
        if ns not in guarded
    }
    return EnvModel(env, usages, unguarded)


# --- the document ------------------------------------------------------------------------------------------

DOC_HEADER = """# Capacity per environment

Generated by `.venv/bin/python -m platformctl.app.capacity --write` from the capacity model
(`scripts/platformctl/app/capacity.py`); `tests/charts/test_capacity.py` fails when this file is out of date
or when a namespace's releases do not fit its ResourceQuota or LimitRange. Do not edit by hand.

**required** = every release planned in the namespace with its pods at their maximum (replicas, or the
HPA maximum; a DaemonSet's pod on every node) + the largest transient need (the surge pods of one rolling
update, or one Helm hook Job). Own charts are rendered with `helm template` and the env's values; upstream
releases are computed from their values and the chart defaults in `values/upstream-workloads.yaml` (read
at the pinned chart versions). **quota** is the namespace's ResourceQuota (`values/<env>/platform.yaml`),
**headroom** what is left. Containers that set no requests or limits get the namespace's LimitRange
defaults; the count is under each table. PVCs and storage are not modelled here.
"""


def _table(usage: Usage) -> list[str]:
    rows = [
        "| resource | steady | + transient | required | quota | headroom |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for resource in RESOURCES:
        quota = usage.guard.quota[resource]
        headroom = usage.headroom(resource)
        percent = f" ({100 * headroom // quota}%)" if quota else ""
        cells = [usage.steady[resource], usage.transient[resource], usage.required(resource), quota, headroom]
        rows.append(f"| {resource} | " + " | ".join(show(resource, c) for c in cells) + f"{percent} |")
    return rows


def markdown(models: Sequence[EnvModel]) -> str:
    lines = [DOC_HEADER.rstrip("\n")]
    for model in models:
        lines += ["", f"## {model.env}"]
        for ns, usage in sorted(model.usages.items()):
            releases = ", ".join(sorted(usage.by_release)) or "no release"
            lines += ["", f"### {model.env} / {ns}", "", f"Releases: {releases}.", "", *_table(usage), ""]
            lines.append(
                f"Containers on LimitRange defaults: {usage.defaulted} of {usage.containers} "
                f"(defaultRequest {_show_amounts(usage.guard.limits.default_request)}, "
                f"default limit {_show_amounts(usage.guard.limits.default)}, "
                f"max {_show_amounts(usage.guard.limits.max)})."
            )
        for ns, names in sorted(model.unguarded.items()):
            lines += [
                "",
                f"{ns}: no ResourceQuota (not guarded by the platform chart): {', '.join(names)}.",
            ]
    return "\n".join(lines) + "\n"


def _show_amounts(amounts: Mapping[str, int]) -> str:
    return " ".join(f"{kind} {show(kind, value)}" for kind, value in sorted(amounts.items()))


# --- command line: render the own charts with helm and (re)write the document ------------------------------


def models(root: Path) -> list[EnvModel]:
    from platformctl.app import release_plan, render

    with tempfile.TemporaryDirectory() as scratch:
        planned = release_plan.every_env(Path(scratch))
    return [build(env, plan, lambda r: render.manifests(r, root), root) for env, plan in planned.items()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m platformctl.app.capacity", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--write", action="store_true", help=f"rewrite {DOC_FILE} instead of checking it")
    args = parser.parse_args(argv)
    root = repo_root()
    built = models(root)
    text = markdown(built)
    target = root / DOC_FILE
    for finding in (f for m in built for f in m.findings):
        print(f"does not fit: {finding}", file=sys.stderr)
    command = ".venv/bin/python -m platformctl.app.capacity --write"
    return configfile.write_or_check(target, text, str(DOC_FILE), command, args.write)


if __name__ == "__main__":
    sys.exit(main())

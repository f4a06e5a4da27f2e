"""A small evaluator of NetworkPolicy semantics (matchLabels selectors, namespace peers, ports), enough to
prove that the rendered policies allow each documented edge and nothing obviously more."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: dict[str, str] = field(default_factory=dict)


def _matches(selector: dict | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return True
    if selector.get("matchExpressions"):
        raise AssertionError("matchExpressions are not used by the charts' NetworkPolicies")
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def _peer_matches(peer: dict, policy_ns: str, pod: Pod) -> bool:
    if "ipBlock" in peer:
        return False  # pod-to-pod edges are proven by selectors, not by address ranges
    if "namespaceSelector" in peer:
        ns_ok = _matches(peer["namespaceSelector"], {"kubernetes.io/metadata.name": pod.namespace})
    else:
        ns_ok = pod.namespace == policy_ns
    return ns_ok and _matches(peer.get("podSelector"), pod.labels)


def _port_matches(ports: list[dict] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    return any(p.get("port") == port and p.get("protocol", "TCP") == protocol for p in ports)


def _allows(policies: list[dict], direction: str, pod: Pod, peer: Pod, port: int, protocol: str) -> bool:
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for pol in policies:
        spec = pol["spec"]
        if pol["metadata"]["namespace"] != pod.namespace or direction not in spec.get("policyTypes", []):
            continue
        if not _matches(spec.get("podSelector"), pod.labels):
            continue
        for rule in spec.get(key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(_peer_matches(p, pod.namespace, peer) for p in peers)
            if peer_ok and _port_matches(rule.get("ports"), port, protocol):
                return True
    return False


def isolated(policies: list[dict], pod: Pod, direction: str) -> bool:
    """A pod is isolated in a direction once any policy of its namespace selects it for that direction."""
    return any(
        pol["metadata"]["namespace"] == pod.namespace
        and direction in pol["spec"].get("policyTypes", [])
        and _matches(pol["spec"].get("podSelector"), pod.labels)
        for pol in policies
    )


def connection_allowed(policies: list[dict], src: Pod, dst: Pod, port: int, protocol: str = "TCP") -> bool:
    egress_ok = not isolated(policies, src, "Egress") or _allows(policies, "Egress", src, dst, port, protocol)
    ingress_ok = not isolated(policies, dst, "Ingress") or _allows(
        policies, "Ingress", dst, src, port, protocol
    )
    return egress_ok and ingress_ok

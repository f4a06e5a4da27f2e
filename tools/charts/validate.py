"""Validation of rendered objects: kubernetes-validate (strict) for built-in kinds, small schemas for CRs."""

from __future__ import annotations

from functools import cache

import jsonschema
import kubernetes_validate
from kubernetes_validate import utils as kv_utils

# kubernetes-validate re-reads its (large) definitions file for every object; caching the parsed JSON
# keeps the suite fast without changing what is validated.
kv_utils.schema_contents = cache(kv_utils.schema_contents)

_STR = {"type": "string", "minLength": 1}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_META = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": _STR, "namespace": _STR, "labels": _LABELS, "annotations": _LABELS},
}

# The CRDs (Traefik, Prometheus Operator) cannot be fetched here, so these schemas are written from the
# upstream API references and cover every field the charts set; unknown fields are rejected.
_CR_SPECS: dict[tuple[str, str], dict] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): {
        "type": "object",
        "additionalProperties": False,
        "required": ["selector", "endpoints"],
        "properties": {
            "selector": {"type": "object"},
            "endpoints": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["port"],
                    "properties": {"port": _STR, "path": _STR, "interval": {"pattern": "^[0-9]+[smh]$"}},
                },
            },
        },
    },
    ("monitoring.coreos.com/v1", "PrometheusRule"): {
        "type": "object",
        "additionalProperties": False,
        "required": ["groups"],
        "properties": {"groups": {"type": "array", "minItems": 1}},
    },
    ("traefik.io/v1alpha1", "IngressRoute"): {
        "type": "object",
        "additionalProperties": False,
        "required": ["routes"],
        "properties": {
            "entryPoints": {"type": "array", "items": _STR},
            "routes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["kind", "match", "services"],
                    "properties": {
                        "kind": {"const": "Rule"},
                        "match": _STR,
                        "middlewares": {"type": "array"},
                        "services": {"type": "array", "minItems": 1},
                    },
                },
            },
            "tls": {"type": "object", "properties": {"secretName": _STR}, "additionalProperties": False},
        },
    },
    ("traefik.io/v1alpha1", "Middleware"): {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
        "properties": {
            "headers": {"type": "object"},
            "rateLimit": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"average": {"type": "integer"}, "burst": {"type": "integer"}},
            },
            "redirectScheme": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"scheme": {"enum": ["https"]}, "permanent": {"type": "boolean"}},
            },
        },
    },
    ("cert-manager.io/v1", "ClusterIssuer"): {
        "type": "object",
        "additionalProperties": False,
        "required": ["acme"],
        "properties": {
            "acme": {
                "type": "object",
                "additionalProperties": False,
                "required": ["server", "email", "privateKeySecretRef", "solvers"],
                "properties": {
                    "server": {"pattern": "^https://"},
                    "email": {"pattern": "@"},
                    "privateKeySecretRef": {"type": "object", "required": ["name"]},
                    "solvers": {"type": "array", "minItems": 1},
                },
            }
        },
    },
    ("cert-manager.io/v1", "Certificate"): {
        "type": "object",
        "additionalProperties": False,
        "required": ["secretName", "dnsNames", "issuerRef"],
        "properties": {
            "secretName": _STR,
            "dnsNames": {"type": "array", "minItems": 1, "items": _STR},
            "issuerRef": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "kind"],
                "properties": {"name": _STR, "kind": {"enum": ["Issuer", "ClusterIssuer"]}},
            },
        },
    },
}

CUSTOM_KINDS = frozenset(_CR_SPECS)


def kind_of(obj: dict) -> tuple[str, str]:
    return obj["apiVersion"], obj["kind"]


def validate_object(obj: dict, kube_version: str) -> None:
    """Raise if `obj` is not valid for `kube_version` (strict: unknown fields are errors)."""
    spec = _CR_SPECS.get(kind_of(obj))
    if spec is None:
        kubernetes_validate.validate(obj, kube_version, strict=True)
        return
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {"apiVersion": _STR, "kind": _STR, "metadata": _META, "spec": spec},
    }
    jsonschema.validate(obj, schema)

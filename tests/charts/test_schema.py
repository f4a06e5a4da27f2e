"""Each chart's values.schema.json: helm rejects a wrong type and an unknown key, naming the key."""

from __future__ import annotations

import json

import pytest

from tools.charts import render

# Per chart: a key whose type is wrong in the override, given as (dotted key, JSON value).
WRONG_TYPES = {
    "microservice": ("replicaCount", '"three"'),
    "postgresql": ("persistence.size", "[1]"),
    "rabbitmq": ("replicaCount", '"two"'),
    "minio": ("console.enabled", '"yes"'),
    "platform": ("dnsEgress", '"on"'),
}
# Per chart: a release that uses it (its env values make a valid base).
BASE = {
    "microservice": "users",
    "postgresql": "postgresql",
    "rabbitmq": "rabbitmq",
    "minio": "minio",
    "platform": "platform",
}


def _helm_error(chart: str, extra: list[str]) -> str:
    rel = render.release(BASE[chart])
    with pytest.raises(render.RenderError) as info:
        render.run_helm(render.helm_args(rel, "dev", extra=extra))
    return str(info.value)


@pytest.mark.parametrize("chart", render.OWN_CHARTS)
def test_wrong_type_rejected_with_key(chart):
    key, value = WRONG_TYPES[chart]
    message = _helm_error(chart, ["--set-json", f"{key}={value}"])
    assert key in message and "Invalid type" in message, message


@pytest.mark.parametrize("chart", render.OWN_CHARTS)
def test_unknown_key_rejected_with_key(chart):
    message = _helm_error(chart, ["--set", "resourcez.cpu=1"])
    assert "resourcez" in message and "Additional property" in message, message


@pytest.mark.parametrize("chart", render.OWN_CHARTS)
def test_schema_closes_every_object(chart):
    """additionalProperties is false (or a typed map) on every object of the schema."""
    schema = json.loads((render.CHARTS / chart / "values.schema.json").read_text())
    open_objects: list[str] = []

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "additionalProperties" not in node:
                open_objects.append(path)
            for key, child in node.items():
                walk(child, f"{path}/{key}")
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, f"{path}/{i}")

    walk(schema, "")
    assert not open_objects


def test_nested_unknown_key_rejected():
    message = _helm_error("microservice", ["--set", "autoscaling.maxReplica=3"])
    assert "maxReplica" in message, message


def test_missing_image_tag_rejected():
    """Without the generated values the image tag is empty: the render stops with a clear message."""
    rel = render.release("rabbitmq")
    args = [a for a in render.helm_args(rel, "dev") if not a.startswith("image.")]
    args.remove("--set-string")
    with pytest.raises(render.RenderError, match=r"image\.repository and image\.tag must be set"):
        render.run_helm(args)


def test_unpinned_image_rejected():
    message = _helm_error("microservice", ["--set-string", "image.tag=latest"])
    assert "image.tag" in message, message

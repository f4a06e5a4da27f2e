"""The shared HTTP plumbing on a small app of its own, in-process (moved here from users-ms's tests)."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from service_common.http import MAX_BODY_BYTES, service_app
from service_common.logs import JsonFormatter


class Item(BaseModel):
    name: str
    secret: str


@asynccontextmanager
async def no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


@pytest.fixture(scope="module")
def title() -> str:
    return f"http-test-{secrets.token_hex(3)}"  # a registry of its own, whatever ran before


@pytest.fixture(scope="module")
def client(title: str) -> Iterator[TestClient]:
    app = service_app(title, "9.9.9", no_lifespan)

    @app.post("/items/{item_id}")
    async def put_item(item_id: int, body: Item) -> dict[str, int | str]:
        return {"id": item_id, "name": body.name}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("unexpected")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    given = client.get("/healthz", headers={"x-request-id": "abc-123"})
    assert given.json() == {"status": "ok"} and given.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32 and int(generated, 16) >= 0


def test_body_over_the_limit_is_413_declared_or_streamed(client: TestClient) -> None:
    huge = client.post("/items/1", json={"name": "x" * (MAX_BODY_BYTES + 1), "secret": "s"})
    assert huge.status_code == 413 and "x-request-id" in huge.headers

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"y" * 4096

    assert client.post("/items/1", content=chunks()).status_code == 413
    within = client.post("/items/1", json={"name": "x" * 1000, "secret": "s"})
    assert within.status_code == 200 and within.json() == {"id": 1, "name": "x" * 1000}


def test_invalid_content_length_is_400(client: TestClient) -> None:
    response = client.post("/items/1", content=b"{}", headers={"content-length": "many"})
    assert response.status_code == 400 and response.json() == {"detail": "invalid Content-Length"}


def test_422_names_the_field_without_echoing_values(client: TestClient) -> None:
    response = client.post("/items/1", json={"name": 5, "secret": ["hunter2-value"]})
    assert response.status_code == 422
    assert "hunter2-value" not in response.text and "input" not in response.text
    assert {"body", "secret"} <= {loc for err in response.json()["detail"] for loc in err["loc"]}


def test_metrics_count_by_route_template_and_status(client: TestClient, title: str) -> None:
    client.post("/items/7", json={"name": "a", "secret": "b"})
    client.get("/no/such/path")
    assert client.get("/boom").status_code == 500
    text = client.get("/metrics").text
    assert 'http_requests_total{method="POST",route="/items/{item_id}",status="200"}' in text
    assert 'http_requests_total{method="GET",route="unmatched",status="404"}' in text
    assert 'http_requests_total{method="GET",route="/boom",status="500"}' in text
    assert 'http_request_duration_seconds_count{method="POST",route="/items/{item_id}"}' in text
    assert "process_cpu_seconds_total" in text


def test_metrics_and_health_stay_out_of_the_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert list(paths) == ["/items/{item_id}", "/boom"]


def test_access_log_line_is_json_with_request_id(client: TestClient) -> None:
    """Formatted while the request runs: the request id lives in a context variable."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    http_log = logging.getLogger("http")
    level = http_log.level
    http_log.addHandler(handler)
    http_log.setLevel(logging.INFO)
    try:
        client.post("/items/3", json={"name": "a", "secret": "b"}, headers={"x-request-id": "req-42"})
    finally:
        http_log.removeHandler(handler)
        http_log.setLevel(level)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["msg"] == "request" and line["request_id"] == "req-42" and line["status"] == 200
    assert line["route"] == "/items/{item_id}" and line["method"] == "POST" and line["logger"] == "http"

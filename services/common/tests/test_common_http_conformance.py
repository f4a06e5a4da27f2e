"""Answers the OpenAPI documents promise: unparseable bodies are a 422, a 405 lists every method of the
path in `Allow` (OPTIONS included), undeclared or repeated query parameters are a 422, and other HTTP
errors keep FastAPI's shape and headers."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated

import pytest
from fastapi import FastAPI, HTTPException, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel
from service_common.http import service_app

JSON = {"content-type": "application/json"}


class Item(BaseModel):
    name: str


@asynccontextmanager
async def no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = service_app(f"conformance-{secrets.token_hex(3)}", "1.0.0", no_lifespan)

    @app.get("/items")
    def list_items(
        name: str | None = None, tag: Annotated[list[str] | None, Query()] = None, limit: int = 10
    ) -> dict[str, object]:
        return {"name": name, "tag": tag, "limit": limit}

    @app.get("/version")
    def version() -> dict[str, str]:
        return {"version": "1.0.0"}

    @app.post("/items", status_code=201)
    def add_item(body: Item) -> dict[str, str]:
        return {"name": body.name}

    @app.get("/items/{item_id}")
    def get_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.delete("/items/{item_id}", status_code=204)
    def delete_item(item_id: int) -> None:
        return None

    @app.get("/teapot")
    def teapot() -> None:
        try:
            int("not a number")
        except ValueError as exc:
            raise HTTPException(400, "own 400", headers={"x-why": "app"}) from exc

    with TestClient(app) as test_client:
        yield test_client


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe{",  # not UTF-8
        b'{"name": "\xc3"}',  # a truncated UTF-8 sequence inside a string
        b"[" * 30_000,  # nesting deeper than the parser's recursion limit
        b'{"name": ' + b"9" * 5000 + b"}",  # an integer longer than Python converts
        b'{"name": ',  # a syntax error (FastAPI's own 422 already)
    ],
)
def test_unparseable_json_is_422_not_400(client: TestClient, body: bytes) -> None:
    response = client.post("/items", content=body, headers=JSON)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail[0]["loc"][0] == "body" and detail[0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/items", "GET, POST"),
        ("PATCH", "/items", "GET, POST"),
        ("OPTIONS", "/items/7", "DELETE, GET"),
        ("PUT", "/items/7", "DELETE, GET"),
    ],
)
def test_405_allow_lists_every_method_of_the_path(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json() == {"detail": "Method Not Allowed"}


def test_other_http_errors_keep_their_status_and_headers(client: TestClient) -> None:
    own = client.get("/teapot")
    assert own.status_code == 400 and own.json() == {"detail": "own 400"}
    assert own.headers["x-why"] == "app"
    assert client.get("/nowhere").status_code == 404


def test_declared_query_parameters_pass(client: TestClient) -> None:
    response = client.get("/items", params=[("name", "x"), ("tag", "a"), ("tag", "b"), ("limit", "3")])
    assert response.status_code == 200 and response.json() == {"name": "x", "tag": ["a", "b"], "limit": 3}


@pytest.mark.parametrize(
    ("query", "problems"),
    [
        ("emial=x", [(["query", "emial"], "extra_forbidden")]),
        ("name=a&name=b", [(["query", "name"], "repeated")]),
        ("limit=1&limit=2&x=1&x=2", [(["query", "limit"], "repeated"), (["query", "x"], "extra_forbidden")]),
    ],
)
def test_undeclared_or_repeated_query_parameters_are_422(
    client: TestClient, query: str, problems: list[tuple[list[str], str]]
) -> None:
    response = client.get(f"/items?{query}")
    assert response.status_code == 422, response.text
    assert [(err["loc"], err["type"]) for err in response.json()["detail"]] == problems


def test_a_route_without_parameters_still_ignores_a_query_string(client: TestClient) -> None:
    assert client.get("/version?cache=1").status_code == 200
    assert client.get("/healthz?probe=1").status_code == 200

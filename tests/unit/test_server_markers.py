"""Tests are marked with the real servers they need (tests/fixtures/servers.py SERVER_MARKERS), so that
`pytest -m "not s3"` or `-m vault` selects by infrastructure; the marker follows the fixtures a test uses."""

from __future__ import annotations

import pytest

from tests.fixtures import servers


def test_a_test_using_a_server_fixture_carries_its_marker(
    request: pytest.FixtureRequest, postgres_dsn: str
) -> None:
    assert request.node.get_closest_marker("postgres") is not None
    assert request.node.get_closest_marker("vault") is None


def test_a_test_without_one_carries_none(request: pytest.FixtureRequest) -> None:
    assert not {m.name for m in request.node.iter_markers()} & set(servers.MARKER_HELP)


def test_every_marker_is_registered(pytestconfig: pytest.Config) -> None:
    registered = " ".join(pytestconfig.getini("markers"))
    for fixture, marker in servers.SERVER_MARKERS.items():
        assert f"{marker}:" in registered, f"{fixture} -> {marker} is not a registered marker"

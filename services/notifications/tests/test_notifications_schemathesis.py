"""schemathesis over the committed services/notifications/openapi.yaml against a real notifications-ms
process (its own RabbitMQ vhost and S3 bucket), with an admin token from the test issuer."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from schemathesis import Case

from services.conftest import Service, TokenIssuer, bearer, wait_ready
from services.schemathesis_run import Tally, configured

schema = configured(Path(__file__).resolve().parents[1] / "openapi.yaml")


@pytest.fixture(scope="module")
def tally() -> Iterator[Tally]:
    counts = Tally("notifications")
    yield counts
    counts.report()


@pytest.fixture(scope="module")
def notifications(start_service, vhosts, notifications_env) -> Service:
    env = notifications_env(vhosts.new("st"), f"st-{secrets.token_hex(4)}")
    service = start_service("notifications_service", env)
    wait_ready(service.url)  # the bucket exists: an empty listing, not a 503
    return service


@pytest.fixture(scope="module")
def admin(token_issuer: TokenIssuer) -> dict[str, str]:
    return bearer(token_issuer.token("1", role="admin"))


@schema.parametrize()
def test_notifications_api_conforms(
    case: Case, notifications: Service, admin: dict[str, str], tally: Tally
) -> None:
    tally.call_and_validate(case, notifications.url, admin)

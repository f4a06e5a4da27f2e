"""schemathesis over the committed services/users/openapi.yaml against a real users-ms process on its own
PostgreSQL database (so no other test's rows are touched), with an admin token from the test issuer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from schemathesis import Case

from services.conftest import Service, TokenIssuer, bearer, own_database
from services.schemathesis_run import Tally, configured

schema = configured(Path(__file__).resolve().parents[1] / "openapi.yaml")


@pytest.fixture(scope="module")
def tally() -> Iterator[Tally]:
    counts = Tally("users")
    yield counts
    counts.report()


@pytest.fixture(scope="module")
def users(start_service, postgres_dsn: str, token_issuer: TokenIssuer) -> Iterator[Service]:
    with own_database(postgres_dsn, "users_st") as database:
        env = {**database.env(), **token_issuer.env("USERS"), "USERS_BCRYPT_ROUNDS": "4"}
        service = start_service("users_service", env)
        yield service
        service.stop()  # before the database is dropped


@pytest.fixture(scope="module")
def admin(token_issuer: TokenIssuer) -> dict[str, str]:
    return bearer(token_issuer.token("1", role="admin"))


@schema.parametrize()
def test_users_api_conforms(case: Case, users: Service, admin: dict[str, str], tally: Tally) -> None:
    tally.call_and_validate(case, users.url, admin)

"""Migration 0004 on a real PostgreSQL: e-mails stored before canonicalisation (lower-cased only) are
rewritten into the canonical form, and look-alike pairs stop the migration instead of being merged."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from users_service import admin
from users_service.canonical_emails import VERSION, EmailConflict
from users_service.migrate import migrate

FULL_WIDTH_ADA = "\uff41\uff44\uff41"  # "ada" in full-width letters, as the old code stored it


@pytest.fixture
def conninfo(postgres_dsn: str) -> Iterator[str]:
    """A migrated database that forgets 0004 was applied, so the next `migrate` runs it again."""
    name = f"users_canon_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    info = psycopg.conninfo.make_conninfo(postgres_dsn, dbname=name)
    try:
        migrate(info)
        with psycopg.connect(info) as conn:
            conn.execute("DELETE FROM schema_migrations WHERE version = %s", (VERSION,))
        yield info
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def insert(conninfo: str, *emails: str) -> list[int]:
    """Rows as the old code wrote them (e-mails lower-cased only); returns their ids."""
    ids: list[int] = []
    with psycopg.connect(conninfo) as conn:
        for email in emails:
            row = conn.execute(
                "INSERT INTO users (name, surname, email, password_hash)"
                " VALUES ('N', 'S', %s, 'x') RETURNING id",
                (email,),
            ).fetchone()
            assert row is not None
            ids.append(int(row[0]))
    return ids


def emails(conninfo: str) -> dict[int, str]:
    with psycopg.connect(conninfo) as conn:
        return {int(row[0]): str(row[1]) for row in conn.execute("SELECT id, email FROM users")}


def test_stored_look_alikes_become_canonical(conninfo: str) -> None:
    ids = insert(
        conninfo,
        f"{FULL_WIDTH_ADA}@example.org",
        "stra\u00dfe@example.org",
        "\ufb01le@example.org",  # the fi ligature
        "plain@example.org",
    )
    assert migrate(conninfo) == [VERSION]
    assert emails(conninfo) == dict(
        zip(
            ids,
            ["ada@example.org", "strasse@example.org", "file@example.org", "plain@example.org"],
            strict=True,
        )
    )
    assert migrate(conninfo) == []  # applied once


def test_look_alike_pairs_stop_the_migration_naming_the_ids(conninfo: str) -> None:
    ids = insert(
        conninfo,
        f"{FULL_WIDTH_ADA}@example.org",
        "ada@example.org",
        "stra\u00dfe@example.org",
        "strasse@example.org",
        "\u00e9@example.org",  # canonical already, and alone: not part of the message
    )
    before = emails(conninfo)
    with pytest.raises(EmailConflict) as caught:
        migrate(conninfo)
    message = str(caught.value)
    assert f"{ids[0]} and {ids[1]}" in message and f"{ids[2]} and {ids[3]}" in message
    assert "@" not in message  # ids only, never the addresses
    assert isinstance(caught.value, psycopg.Error)  # users-migrate reports it as a one-line failure
    assert emails(conninfo) == before
    with psycopg.connect(conninfo) as conn:
        versions = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    assert VERSION not in versions


def test_the_seeded_admin_address_is_stored_canonical() -> None:
    full_width_admin = "".join(chr(ord(c) - ord("a") + 0xFF41) for c in "admin")
    email = admin.check_credentials(f" {full_width_admin}@Example.ORG\n", "a" * 20)
    assert email == "admin@example.org"

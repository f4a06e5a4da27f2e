"""`users-migrate`: apply the versioned SQL files in users_service/migrations once each, in order, then
seed the admin account when USERS_ADMIN_EMAIL_FILE and USERS_ADMIN_PASSWORD_FILE are set (admin.py).

Runs as a Kubernetes Job before the Deployment rolls. All pending files apply in one transaction under
an advisory lock, so two concurrent runs cannot interleave and a failed file leaves nothing half done.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from importlib import resources
from typing import Any

import psycopg
from service_common.logs import configure_logging
from service_common.settings import SettingsError

from users_service import admin, canonical_emails
from users_service.passwords import Hasher
from users_service.settings import Settings

LOCK_KEY = 0x75736572  # arbitrary constant shared by every users-migrate run ("user")
log = logging.getLogger("users.migrate")
# Data changes that need the service's own Python, run right after their version's SQL file and in the
# same transaction (the file holds the schema part and the lock).
DATA_STEPS: dict[str, Callable[[psycopg.Connection[Any]], object]] = {
    canonical_emails.VERSION: canonical_emails.canonicalise,
}


def available() -> list[tuple[str, str]]:
    """(version, sql) for every migration file, sorted by its numeric prefix."""
    folder = resources.files("users_service") / "migrations"
    files = sorted(item.name for item in folder.iterdir() if item.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), (folder / name).read_text(encoding="utf-8")) for name in files]


def migrate(conninfo: str) -> list[str]:
    """Apply pending migrations; return the versions applied by this run."""
    applied_now: list[str] = []
    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, sql in available():
            if version in done:
                continue
            conn.execute(sql.encode())
            if version in DATA_STEPS:
                DATA_STEPS[version](conn)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied_now.append(version)
    return applied_now


def seed_admin(conninfo: str, settings: Settings) -> str | None:
    """Seed the admin account from its secret files; None when they are not configured."""
    if settings.admin_email_file is None and settings.admin_password_file is None:
        return None
    email = admin.check_credentials(settings.secret("admin_email"), settings.secret("admin_password"))
    hasher = Hasher(settings.bcrypt_rounds)
    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        return admin.seed(conn, email, settings.secret("admin_password"), hasher)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def main() -> int:
    settings = Settings()
    configure_logging(settings.log_level)
    try:
        conninfo = settings.conninfo()
        versions = migrate(conninfo)
    except (SettingsError, psycopg.Error) as exc:
        log.error("migration failed: %s", _first_line(exc))
        return 1
    log.info("migrations applied", extra={"fields": {"applied": versions}})
    try:
        outcome = seed_admin(conninfo, settings)
    except (SettingsError, psycopg.Error) as exc:
        log.error("admin account not seeded: %s", _first_line(exc))
        return 1
    if outcome is not None:
        log.info("admin account seeded", extra={"fields": {"outcome": outcome}})
    return 0


if __name__ == "__main__":
    sys.exit(main())

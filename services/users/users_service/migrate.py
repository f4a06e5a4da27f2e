"""`users-migrate`: apply the versioned SQL files in users_service/migrations once each, in order.

Runs as a Kubernetes Job before the Deployment rolls. All pending files apply in one transaction under
an advisory lock, so two concurrent runs cannot interleave and a failed file leaves nothing half done.
"""

from __future__ import annotations

import logging
import sys
from importlib import resources

import psycopg
from service_common.logs import configure_logging
from service_common.settings import SettingsError

from users_service.settings import Settings

LOCK_KEY = 0x75736572  # arbitrary constant shared by every users-migrate run ("user")
log = logging.getLogger("users.migrate")


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
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied_now.append(version)
    return applied_now


def main() -> int:
    settings = Settings()
    configure_logging(settings.log_level)
    try:
        versions = migrate(settings.conninfo())
    except (SettingsError, psycopg.Error) as exc:
        log.error("migration failed: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return 1
    log.info("migrations applied", extra={"fields": {"applied": versions}})
    return 0


if __name__ == "__main__":
    sys.exit(main())

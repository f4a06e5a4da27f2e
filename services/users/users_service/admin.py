"""The admin account: seeded by `users-migrate` from the mounted `users-admin` Secret (Vault
`kv/<env>/users-admin`, keys `email` and `password`), never from a default password.

The account with that e-mail gets role `admin` and the bcrypt hash of that password: created when it is
missing, updated when the password or the role differ (so an account someone registered earlier under
that e-mail is taken over, its password replaced), left alone otherwise.
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from service_common.settings import SettingsError
from service_common.text import canonical_email

from users_service.models import BCRYPT_MAX_BYTES
from users_service.passwords import Hasher

ADMIN_ROLE = "admin"
MIN_PASSWORD_CHARS = 16  # Vault generates 43; a short one is a mistake worth stopping the deploy for


def check_credentials(email: str, password: str) -> str:
    """The normalised e-mail; SettingsError names the problem (never the values)."""
    normalised = canonical_email(email.strip())  # the form logins look up (service_common.text)
    local, _, domain = normalised.partition("@")
    if not local or "." not in domain or any(ch.isspace() for ch in normalised):
        raise SettingsError("USERS_ADMIN_EMAIL_FILE: not an e-mail address")
    if len(password) < MIN_PASSWORD_CHARS or len(password.encode("utf-8")) > BCRYPT_MAX_BYTES:
        raise SettingsError(
            f"USERS_ADMIN_PASSWORD_FILE: needs {MIN_PASSWORD_CHARS} characters to {BCRYPT_MAX_BYTES} bytes"
        )
    return normalised


def seed(conn: Connection[Any], email: str, password: str, hasher: Hasher) -> str:
    """Create or update the admin account; returns `created`, `updated` or `unchanged`."""
    row = conn.execute("SELECT password_hash, role FROM users WHERE email = %s", (email,)).fetchone()
    if row is not None and row[1] == ADMIN_ROLE and hasher.check(password, str(row[0])):
        return "unchanged"
    conn.execute(
        "INSERT INTO users (name, surname, email, password_hash, role) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash, role = EXCLUDED.role,"
        " updated_at = now()",
        ("Platform", "Admin", email, hasher.hash(password), ADMIN_ROLE),
    )
    return "created" if row is None else "updated"

"""PostgreSQL role passwords, set as a SCRAM verifier made client side (no plaintext in server logs)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import psycopg
from psycopg import sql

from platformctl.errors import ConfigError


def set_password(dsn: str, role: str, password: str) -> None:
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(verifier.decode())
                )
            )
    except psycopg.Error as exc:
        state = exc.sqlstate or "connection"
        raise ConfigError(
            f"ALTER ROLE {role} failed (SQLSTATE {state}); check the role exists and the "
            "admin connection (PLATFORMCTL_PG_DSN)"
        ) from None


def verifier(dsn: str, role: str) -> str:
    """The stored SCRAM verifier of a role (needs superuser: pg_authid)."""
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()
    return str(row[0]) if row and row[0] else ""


def scram_matches(stored: str, password: str) -> bool:
    """Whether `password` passes a SCRAM-SHA-256 verifier, checked exactly as the server does (RFC 5802)."""
    try:
        method, rest = stored.split("$", 1)
        iterations_salt, keys = rest.split("$", 1)
        iterations, salt = iterations_salt.split(":", 1)
        stored_key = keys.split(":", 1)[0]
    except ValueError:
        return False
    if method != "SCRAM-SHA-256":
        return False
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), base64.b64decode(stored_key))

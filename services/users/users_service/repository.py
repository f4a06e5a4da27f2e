"""SQL for the users table; every function takes an open connection from the pool."""

from __future__ import annotations

from typing import Any

from psycopg import Connection, sql
from psycopg.rows import dict_row
from service_common.text import canonical_email

SELECT_USERS = "SELECT id, name, surname, email, created_at, updated_at FROM users"

Row = dict[str, Any]


def insert(conn: Connection[Any], name: str, surname: str, email: str, password_hash: str) -> Row:
    cur = conn.cursor(row_factory=dict_row)
    cur.execute(
        "INSERT INTO users (name, surname, email, password_hash) VALUES (%s, %s, %s, %s)"
        " RETURNING id, name, surname, email, created_at, updated_at",
        (name, surname, email, password_hash),
    )
    row = cur.fetchone()
    assert row is not None
    return row


def get(conn: Connection[Any], user_id: int) -> Row | None:
    cur = conn.cursor(row_factory=dict_row)
    cur.execute(SELECT_USERS + " WHERE id = %s", (user_id,))
    return cur.fetchone()


def _filters(email: str | None, name: str | None, surname: str | None) -> tuple[sql.Composable, list[str]]:
    clauses: list[sql.Composable] = []
    params: list[str] = []
    if email:
        clauses.append(sql.SQL("email = %s"))
        params.append(canonical_email(email))  # the stored form (idempotent: callers pass it already)
    for column, value in (("name", name), ("surname", surname)):
        if value:
            clauses.append(sql.SQL("lower({}) = lower(%s)").format(sql.Identifier(column)))
            params.append(value)
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("")
    return where, params


def search(
    conn: Connection[Any],
    *,
    email: str | None,
    name: str | None,
    surname: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Row], int]:
    where, params = _filters(email, name, surname)
    cur = conn.cursor(row_factory=dict_row)
    cur.execute(sql.SQL("SELECT count(*) AS n FROM users") + where, params)
    total_row = cur.fetchone()
    total = int(total_row["n"]) if total_row else 0
    query = sql.SQL(SELECT_USERS) + where + sql.SQL(" ORDER BY id LIMIT %s OFFSET %s")
    cur.execute(query, [*params, limit, offset])
    return cur.fetchall(), total


def update(
    conn: Connection[Any], user_id: int, name: str, surname: str, email: str, password_hash: str | None
) -> Row | None:
    cur = conn.cursor(row_factory=dict_row)
    cur.execute(
        "UPDATE users SET name = %s, surname = %s, email = %s,"
        " password_hash = COALESCE(%s, password_hash), updated_at = now()"
        " WHERE id = %s RETURNING id, name, surname, email, created_at, updated_at",
        (name, surname, email, password_hash, user_id),
    )
    return cur.fetchone()


def delete(conn: Connection[Any], user_id: int) -> bool:
    cur = conn.execute("DELETE FROM users WHERE id = %s", (user_id,))
    return cur.rowcount == 1


def credentials(conn: Connection[Any], email: str) -> tuple[int, str, str, str] | None:
    """(id, email, password hash, role) of the account with this e-mail."""
    query = "SELECT id, email, password_hash, role FROM users WHERE email = %s"
    row = conn.execute(query, (canonical_email(email),)).fetchone()
    return (int(row[0]), str(row[1]), str(row[2]), str(row[3])) if row else None

"""Data step of migration 0004: rewrite stored e-mails into their canonical form.

Rows whose canonical forms coincide (a full-width spelling next to the plain one, or `strasse@x.com`
next to a sharp-s spelling) are two accounts that would share one address. Which one keeps it is for a
person to decide, not a migration: the step then changes nothing and fails, naming the user ids (never
the addresses), so the deploy stops until the accounts are merged or one address is changed by hand.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import psycopg
from service_common.text import canonical_email

VERSION = "0004_canonical_emails"


class EmailConflict(psycopg.DataError):
    """Stored e-mails that would become equal; a psycopg error, so users-migrate reports it as one."""


def canonicalise(conn: psycopg.Connection[Any]) -> int:
    """Rewrite every non-canonical e-mail; return how many rows changed."""
    changes: dict[int, str] = {}
    with conn.cursor(name="canonical_emails") as cur:  # streamed: the table may be large
        cur.execute("SELECT id, email FROM users")
        for user_id, email in cur:
            canonical = canonical_email(email)
            if canonical != email:
                changes[int(user_id)] = canonical
    if not changes:
        return 0
    claimants: defaultdict[str, list[int]] = defaultdict(list)
    for user_id, canonical in changes.items():
        claimants[canonical].append(user_id)
    rows = conn.execute("SELECT id, email FROM users WHERE email = ANY(%s)", (list(claimants),)).fetchall()
    for user_id, email in rows:
        claimants[email].append(int(user_id))
    clashes = [sorted(ids) for ids in claimants.values() if len(ids) > 1]
    if clashes:
        groups = "; ".join(" and ".join(map(str, ids)) for ids in sorted(clashes))
        raise EmailConflict(
            f"users {groups} have e-mails that are the same address once canonical (NFKC, case-folded):"
            " merge those accounts or change one address, then run users-migrate again"
        )
    with conn.cursor() as cur:
        cur.executemany("UPDATE users SET email = %s WHERE id = %s", [(e, i) for i, e in changes.items()])
    return len(changes)

"""pgrole: the SCRAM verifier check (the role changes themselves run against the real PostgreSQL in
tests/integration/test_rotate.py)."""

from __future__ import annotations

from platformctl.adapters import pgrole


def test_scram_check_rejects_garbage() -> None:
    assert not pgrole.scram_matches("md5abc", "x")
    assert not pgrole.scram_matches("SCRAM-SHA-256$4096:c2FsdA==$AAAA:BBBB", "x")

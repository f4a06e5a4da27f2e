"""JWT key set format (docs/architecture.md) and its error messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from platformctl.app import jwtkeys
from platformctl.errors import ConfigError


def test_keyset_shape_matches_the_contract():
    keyset = json.loads(jwtkeys.new_keyset(datetime(2026, 11, 22, tzinfo=UTC)))
    assert keyset["active_kid"] == "2026-11-22T00-00-00Z"
    (key,) = keyset["keys"]
    assert key["alg"] == "EdDSA" and key["created_at"] == "2026-11-22T00:00:00Z"
    assert key["private_key_pem"].startswith("-----BEGIN PRIVATE KEY-----")


def test_broken_keyset_error_never_quotes_it():
    with pytest.raises(ConfigError, match="not valid JSON") as caught:
        jwtkeys.parse('{"keys": "SENTINEL"')
    assert "SENTINEL" not in str(caught.value)
    with pytest.raises(ConfigError, match="names no key"):
        jwtkeys.parse('{"active_kid": "x", "keys": []}')

"""Generated secret values: the auth service's JWT key set (docs/architecture.md, "JWT key set": Ed25519 keys,
one active) and passwords (dev seeding, rotation)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from platformctl.errors import ConfigError


def _stamp(moment: datetime) -> tuple[str, str]:
    """(kid, created_at) for a moment; the kid is the timestamp with filename-safe separators."""
    moment = moment.astimezone(UTC).replace(microsecond=0)
    return moment.strftime("%Y-%m-%dT%H-%M-%SZ"), moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_key(now: datetime) -> dict[str, str]:
    kid, created = _stamp(now)
    pem = (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    return {"kid": kid, "alg": "EdDSA", "private_key_pem": pem, "created_at": created}


def new_keyset(now: datetime | None = None) -> str:
    key = new_key(now or datetime.now(UTC))
    return dump({"active_kid": key["kid"], "keys": [key]})


def dump(keyset: dict[str, Any]) -> str:
    return json.dumps(keyset, sort_keys=True, separators=(",", ":"))


def parse(text: str) -> dict[str, Any]:
    """Parse and check a key set; errors never quote the text (it holds private keys)."""
    try:
        keyset = json.loads(text)
        kids = [key["kid"] for key in keyset["keys"]]
    except (ValueError, KeyError, TypeError):
        raise ConfigError("JWT key set is not valid JSON with `active_kid` and `keys`; re-seed it") from None
    if keyset.get("active_kid") not in kids:
        raise ConfigError("JWT key set: `active_kid` names no key of the set; re-seed it")
    return dict(keyset)


def rotate(text: str, max_token_lifetime: timedelta, now: datetime | None = None) -> str:
    """Add a new active key, keep the previous one, drop older keys once no token signed by them lives."""
    now = now or datetime.now(UTC)
    keyset = parse(text)
    previous = keyset["active_kid"]
    fresh = new_key(now)
    if fresh["kid"] in {key["kid"] for key in keyset["keys"]}:
        fresh["kid"] += "-" + str(len(keyset["keys"]))  # two rotations within one second
    cutoff = now - max_token_lifetime
    ordered = sorted(keyset["keys"], key=_created)
    # A key stopped signing when its successor was created; its tokens are dead one lifetime later.
    kept = [
        key
        for key, successor in zip(ordered, [*ordered[1:], None], strict=True)
        if key["kid"] == previous or (successor is not None and _created(successor) > cutoff)
    ]
    return dump({"active_kid": fresh["kid"], "keys": [*kept, fresh]})


def _created(key: dict[str, str]) -> datetime:
    return datetime.strptime(key["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def public_keys(text: str) -> dict[str, Any]:
    """kid -> public key object, for verifying tokens with any key of the set."""
    keys = {}
    for key in parse(text)["keys"]:
        private = serialization.load_pem_private_key(key["private_key_pem"].encode(), password=None)
        keys[key["kid"]] = private.public_key()
    return keys


def new_password() -> str:
    """A generated password (dev seeding and rotation): 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)

"""The JWT key set mounted from the `auth-jwt-keys` Secret (format in docs/architecture.md).

Tokens are signed with `active_kid`; every key of the set is published in the JWKS so tokens signed
with a key that rotation has just retired keep verifying until they expire. The file is re-read when
it changes on disk (Kubernetes swaps mounted Secret files atomically).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

log = logging.getLogger("auth.keys")


class KeySetError(ValueError):
    """The key-set file is missing or malformed; the message says what and where."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private_key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey

    def public_jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        if isinstance(public, ed25519.Ed25519PublicKey):
            jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}


@dataclass(frozen=True)
class KeySet:
    active: SigningKey
    keys: tuple[SigningKey, ...]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk() for key in self.keys]}


def _load_key(entry: Any, where: str) -> SigningKey:
    if not isinstance(entry, dict) or not {"kid", "alg", "private_key_pem"} <= entry.keys():
        raise KeySetError(f"{where}: each key needs kid, alg and private_key_pem")
    kid, alg = str(entry["kid"]), str(entry["alg"])
    try:
        private = serialization.load_pem_private_key(str(entry["private_key_pem"]).encode(), password=None)
    except (ValueError, TypeError):
        raise KeySetError(f"{where}: key {kid}: private_key_pem is not an unencrypted PEM key") from None
    expected = {"EdDSA": ed25519.Ed25519PrivateKey, "RS256": rsa.RSAPrivateKey}.get(alg)
    if expected is None or not isinstance(private, expected):
        raise KeySetError(f"{where}: key {kid}: alg must be EdDSA (Ed25519) or RS256 (RSA) and match the key")
    return SigningKey(kid, alg, private)  # type: ignore[arg-type]


def parse_keyset(text: str, where: str) -> KeySet:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeySetError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list) or not data["keys"]:
        raise KeySetError(f"{where}: expected an object with a non-empty `keys` list")
    keys = tuple(_load_key(entry, where) for entry in data["keys"])
    by_kid = {key.kid: key for key in keys}
    if len(by_kid) != len(keys):
        raise KeySetError(f"{where}: duplicate kid")
    active = by_kid.get(str(data.get("active_kid")))
    if active is None:
        raise KeySetError(f"{where}: active_kid does not name a key of the set")
    return KeySet(active, keys)


class KeyStore:
    """Current key set, reloaded when the file's identity (inode, size, mtime) changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._keyset = self._read()

    def _file_stamp(self) -> tuple[int, int, int]:
        info = os.stat(self.path)
        return info.st_ino, info.st_size, info.st_mtime_ns

    def _read(self) -> KeySet:
        try:
            stamp = self._file_stamp()
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise KeySetError(f"AUTH_JWT_KEYSET_FILE: cannot read {self.path}: {exc.strerror}") from None
        keyset = parse_keyset(text, f"AUTH_JWT_KEYSET_FILE {self.path}")
        self._stamp = stamp
        return keyset

    def current(self) -> KeySet:
        with self._lock:
            try:
                if self._file_stamp() != self._stamp:
                    self._keyset = self._read()
                    log.info("key set reloaded", extra={"fields": {"active_kid": self._keyset.active.kid}})
            except (OSError, KeySetError) as exc:
                # Keep signing with the last good set; rotation must never log anyone out.
                log.error(
                    "key set reload failed, keeping the previous one", extra={"fields": {"error": str(exc)}}
                )
            return self._keyset

    def sign(self, subject: str, issuer: str, ttl_seconds: int, extra: dict[str, Any]) -> str:
        key = self.current().active
        now = int(time.time())
        claims = {
            **extra,
            "sub": subject,
            "iss": issuer,
            "iat": now,
            "exp": now + ttl_seconds,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, key.private_key, algorithm=key.alg, headers={"kid": key.kid})

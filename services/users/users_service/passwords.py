"""bcrypt hashing; a dummy hash keeps "unknown e-mail" as slow as "wrong password"."""

from __future__ import annotations

import secrets

import bcrypt

from users_service.models import BCRYPT_MAX_BYTES


class Hasher:
    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        # Same cost as real hashes, random content: checking against it costs the same time.
        self._dummy = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds))

    def hash(self, password: str) -> str:
        return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(self.rounds)).decode("ascii")

    def check(self, password: str, stored_hash: str | None) -> bool:
        """Constant work whether or not a user exists; bcrypt compares in constant time."""
        candidate = password.encode("utf-8")
        fits = len(candidate) <= BCRYPT_MAX_BYTES
        target = stored_hash.encode("ascii") if stored_hash else self._dummy
        matched = bcrypt.checkpw(candidate[:BCRYPT_MAX_BYTES], target)
        return matched and fits and stored_hash is not None

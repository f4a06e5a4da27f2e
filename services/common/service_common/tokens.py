"""Bearer tokens issued by auth-ms, checked by every service that serves a protected route.

Each service verifies a token itself (defence in depth: a pod reached past the ingress is still closed):
the signature against the JWKS that auth-ms publishes, `exp`, `iss`, `aud`, the subject and the role,
and an algorithm allow-list (the algorithms auth-ms's key set can hold, EdDSA and RS256; never `none`
or an HMAC algorithm, so a public key can never be used as a shared secret).

The JWKS is cached. It is fetched again when the cache is older than `jwks_cache_seconds`, and when a
token names a `kid` the cache does not know (a rotated key) — but at most once per
`jwks_refetch_seconds`, so tokens with made-up key ids cannot turn the service into a JWKS flooder. When
a fetch fails, the keys already known stay in use. Tokens and their claims are never logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field

from service_common.settings import ServiceSettings

ALLOWED_ALGORITHMS = frozenset({"EdDSA", "RS256"})  # what auth_service.keys accepts in a key set
ADMIN_ROLE = "admin"
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "role")
MAX_JWKS_BYTES = 256 * 1024
REALM = "platform"

log = logging.getLogger("tokens")


class TokenSettings(ServiceSettings):
    """Settings of a service that checks tokens (named with the service's prefix, e.g. USERS_JWKS_URL)."""

    jwks_url: str = "http://auth.apps.svc.cluster.local:8080/auth-ms/.well-known/jwks.json"
    jwt_issuer: str = "auth-ms"
    jwt_audience: str = "platform-api"
    # The cached key set is fetched again after this long, so retired keys leave it.
    jwks_cache_seconds: int = Field(300, ge=1, le=86400)
    # Smallest interval between fetches caused by an unknown `kid` (key rotation); 0 = no limit.
    jwks_refetch_seconds: float = Field(10.0, ge=0, le=3600)
    jwks_timeout_seconds: float = Field(3.0, gt=0, le=60)
    # Clock skew tolerated on `exp` and `iat`.
    jwt_leeway_seconds: int = Field(5, ge=0, le=300)


class InvalidToken(Exception):
    """The token is refused (401); the message says why, without quoting the token."""


class KeysUnavailable(Exception):
    """No key set could be fetched, so no token can be checked (503)."""


@dataclass(frozen=True)
class Principal:
    """Who sent the request, from a verified token."""

    subject: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN_ROLE


@dataclass(frozen=True)
class TokenRules:
    issuer: str
    audience: str
    leeway_seconds: int = 5


def fetch_jwks(url: str, timeout: float) -> Any:
    """The JSON document at `url` (plain HTTP GET, bounded size)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 (setting)
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (setting)
        body = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"key set larger than {MAX_JWKS_BYTES} bytes")
    return json.loads(body)


def parse_jwks(document: Any) -> dict[str, jwt.PyJWK]:
    """kid -> key for every usable key of a JWKS; keys with other algorithms are left out."""
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("not a JWKS: no `keys` list")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries:
        kid, alg = (entry.get("kid"), entry.get("alg")) if isinstance(entry, dict) else (None, None)
        if not isinstance(kid, str) or alg not in ALLOWED_ALGORITHMS:
            continue
        try:
            keys[kid] = jwt.PyJWK(entry, algorithm=alg)
        except (jwt.PyJWKError, jwt.InvalidKeyError):
            log.warning("unusable key in the JWKS", extra={"fields": {"kid": kid}})
    return keys


class JwksCache:
    """The published keys by kid, fetched on demand (see the module doc for when)."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float,
        refetch_seconds: float,
        timeout: float = 3.0,
        fetch: Callable[[str, float], Any] = fetch_jwks,
    ) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.refetch_seconds = refetch_seconds
        self.timeout = timeout
        self._fetch = fetch
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last attempt, successful or not

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The key named `kid`, fetching the set first when it is stale or does not know `kid`."""
        with self._lock:
            now = time.monotonic()
            if self._stale(now) or (kid not in self._keys and self._may_refetch(now)):
                self._refresh(now)
            if self._fetched_at is None:
                raise KeysUnavailable("the token keys could not be fetched")
            return self._keys.get(kid)

    def _stale(self, now: float) -> bool:
        if self._fetched_at is None:
            return self._may_refetch(now)
        return now - self._fetched_at >= self.cache_seconds and self._may_refetch(now)

    def _may_refetch(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self.refetch_seconds

    def _refresh(self, now: float) -> None:
        self._attempted_at = now
        try:
            keys = parse_jwks(self._fetch(self.url, self.timeout))
        except (OSError, ValueError, urllib.error.URLError) as exc:
            log.error(
                "JWKS fetch failed, keeping the keys already known",
                extra={"fields": {"url": self.url, "error": f"{type(exc).__name__}: {exc}"[:200]}},
            )
            return
        self._keys, self._fetched_at = keys, now
        log.info("JWKS fetched", extra={"fields": {"kids": sorted(keys)}})


class TokenVerifier:
    """Checks a compact JWS: allowed algorithm, known kid, signature, exp/iat, iss, aud, sub, role."""

    def __init__(self, keys: JwksCache, rules: TokenRules) -> None:
        self.keys = keys
        self.rules = rules

    @classmethod
    def from_settings(cls, settings: TokenSettings) -> TokenVerifier:
        cache = JwksCache(
            settings.jwks_url,
            cache_seconds=settings.jwks_cache_seconds,
            refetch_seconds=settings.jwks_refetch_seconds,
            timeout=settings.jwks_timeout_seconds,
        )
        rules = TokenRules(settings.jwt_issuer, settings.jwt_audience, settings.jwt_leeway_seconds)
        return cls(cache, rules)

    def verify(self, token: str) -> Principal:
        header = _header(token)
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALLOWED_ALGORITHMS:
            raise InvalidToken(f"algorithm {str(alg)[:20]!r} is not allowed")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no signing key (kid)")
        key = self.keys.key(kid)
        if key is None:
            raise InvalidToken("unknown signing key")
        if key.algorithm_name != alg:
            raise InvalidToken("the token's algorithm does not match its key")
        return _principal(self._claims(token, key))

    def _claims(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm_name],
                audience=self.rules.audience,
                issuer=self.rules.issuer,
                leeway=self.rules.leeway_seconds,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("token is not for this audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("token is from another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"token has no {exc.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("bad signature") from None
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"invalid token ({type(exc).__name__})") from None


def _header(token: str) -> Mapping[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise InvalidToken("malformed token") from None


def _principal(claims: dict[str, Any]) -> Principal:
    subject, role = claims.get("sub"), claims.get("role")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("the 'sub' claim must be a non-empty string")
    if not isinstance(role, str) or not role:
        raise InvalidToken("the 'role' claim must be a non-empty string")
    return Principal(subject, role)


# OpenAPI: the bearer scheme on every protected operation, and its two refusals.
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="Access token from `POST /auth-ms/auth/login`.",
)
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No token, or the token is invalid or expired"},
    403: {"description": "The token's user may not do this"},
}


def unauthorized(reason: str | None) -> HTTPException:
    """401 with the RFC 6750 challenge; no error code when no token was sent at all."""
    challenge = f'Bearer realm="{REALM}"'
    if reason is not None:
        challenge += f', error="invalid_token", error_description="{reason.replace(chr(34), chr(39))}"'
    return HTTPException(401, reason or "missing bearer token", headers={"WWW-Authenticate": challenge})


def forbidden(detail: str) -> HTTPException:
    return HTTPException(403, detail)


def protect(app: FastAPI, verifier: TokenVerifier) -> None:
    """Make `Caller` parameters of `app`'s routes verify tokens with `verifier`."""
    app.state.token_verifier = verifier


def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
) -> Principal:
    """The verified caller (401 without a valid token, 503 when no key set can be fetched).

    Synchronous on purpose: FastAPI runs it in its thread pool, so a JWKS fetch never blocks the loop.
    """
    verifier = getattr(request.app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("service_common.tokens.protect(app, verifier) was not called for this app")
    if credentials is None:
        raise unauthorized(None)
    try:
        return verifier.verify(credentials.credentials)
    except InvalidToken as exc:
        raise unauthorized(str(exc)) from None
    except KeysUnavailable as exc:
        raise HTTPException(503, str(exc)) from None


# A route parameter `who: Caller` makes the route require a valid token.
Caller = Annotated[Principal, Depends(current_principal)]


def require_admin(caller: Principal) -> None:
    if not caller.is_admin:
        raise forbidden("needs the admin role")


def require_self_or_admin(caller: Principal, user_id: object) -> None:
    """A user acts on their own record; anyone else needs the admin role."""
    if caller.subject != str(user_id) and not caller.is_admin:
        raise forbidden("only the user themselves or an admin may do this")

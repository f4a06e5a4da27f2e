"""service_common.tokens in a real process (demo_service) against the JWKS of a real auth-ms: which tokens
pass, which are refused with 401 and a Bearer challenge, and how often the key set is fetched."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from services.conftest import TokenIssuer, bearer, metric_value, spawn, start_issuer
from tests.fixtures.servers import free_port

HERE = Path(__file__).resolve().parent
JWKS_FETCHES = 'http_requests_total{method="GET",route="/auth-ms/.well-known/jwks.json",status="200"}'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, object], claims: dict[str, object]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def alg_none(issuer: TokenIssuer) -> str:
    return _unsigned({"alg": "none", "typ": "JWT", "kid": "ed"}, issuer.claims("7", "admin")) + "."


def hs256_with_public_key(issuer: TokenIssuer) -> str:
    """The classic confusion attack: HMAC keyed with the (public) verification key."""
    private, _ = issuer.private_key("ed")
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": "ed"}, issuer.claims("7", "admin"))
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def tampered(issuer: TokenIssuer) -> str:
    """A real token whose payload was swapped for one claiming the admin role."""
    header, _, signature = issuer.token("7").split(".")
    payload = _b64(json.dumps(issuer.claims("7", "admin")).encode())
    return f"{header}.{payload}.{signature}"


def foreign_key(issuer: TokenIssuer) -> str:
    """Signed by a key that is not the issuer's, under the issuer's kid."""
    stranger = ed25519.Ed25519PrivateKey.generate()
    return jwt.encode(issuer.claims("7"), stranger, algorithm="EdDSA", headers={"kid": "ed"})


def alg_mismatch(issuer: TokenIssuer) -> str:
    """Header says RS256, signed by the RSA key, but names the EdDSA key's kid."""
    private, _ = issuer.private_key("rsa")
    return jwt.encode(issuer.claims("7"), private, algorithm="RS256", headers={"kid": "ed"})


REFUSED = {
    "malformed": lambda i: "not.a.jwt",
    "alg none": alg_none,
    "HS256 keyed with the public key": hs256_with_public_key,
    "expired": lambda i: i.token("7", exp=int(time.time()) - 60, iat=int(time.time()) - 400),
    "wrong issuer": lambda i: i.token("7", iss="someone-else"),
    "wrong audience": lambda i: i.token("7", aud="another-api"),
    "no audience": lambda i: i.token("7", aud=None),
    "no expiry": lambda i: i.token("7", exp=None),
    "no role": lambda i: i.token("7", role=None),
    "unknown kid": lambda i: jwt.encode(
        i.claims("7"), i.private_key("ed")[0], algorithm="EdDSA", headers={"kid": "ghost"}
    ),
    "bad signature (tampered payload)": tampered,
    "bad signature (foreign key)": foreign_key,
    "alg does not match the key": alg_mismatch,
}


def start_demo(folder: Path, env: dict[str, str]):
    return spawn("demo_service", {"PYTHONPATH": str(HERE), **env}, folder)


@pytest.fixture(scope="module")
def demo(token_issuer, tmp_path_factory):
    service = start_demo(tmp_path_factory.mktemp("demo-tokens"), token_issuer.env("DEMO"))
    yield service
    service.stop()


def own_issuer(tmp_path: Path) -> TokenIssuer:
    """An issuer of the test's own, so that its JWKS request count is the demo's alone."""
    folder = tmp_path / "issuer"
    folder.mkdir()
    return start_issuer(folder)


def whoami(service, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(f"{service.url}/whoami", headers=headers or {}, timeout=10)


@pytest.mark.parametrize("kid", ["ed", "rsa"])
def test_valid_tokens_of_both_algorithms_pass(demo, token_issuer, kid) -> None:
    response = whoami(demo, bearer(token_issuer.token("42", role="user", kid=kid)))
    assert response.status_code == 200, response.text
    assert response.json() == {"subject": "42", "role": "user"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dTpw"}, {"Authorization": "Bearer"}])
def test_no_bearer_token_is_401_with_a_challenge(demo, headers) -> None:
    response = whoami(demo, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="platform"'


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_tokens_are_401(demo, token_issuer, case) -> None:
    token = REFUSED[case](token_issuer)
    response = whoami(demo, bearer(token))
    assert response.status_code == 401, f"{case}: {response.status_code} {response.text}"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="platform", error="invalid_token"'), challenge
    assert token not in demo.log()  # refused tokens are never logged


def test_unreachable_key_set_is_503_not_500(token_issuer, tmp_path) -> None:
    env = {**token_issuer.env("DEMO"), "DEMO_JWKS_URL": f"http://127.0.0.1:{free_port()}/jwks.json"}
    service = start_demo(tmp_path, env)
    try:
        response = whoami(service, bearer(token_issuer.token("7")))
        assert response.status_code == 503 and "could not be fetched" in response.json()["detail"]
        assert '"msg": "JWKS fetch failed, keeping the keys already known"' in service.log()
    finally:
        service.stop()


def test_unknown_kids_refetch_at_most_once_per_interval(tmp_path) -> None:
    issuer = own_issuer(tmp_path)
    service = start_demo(tmp_path, issuer.env("DEMO", refetch_seconds=60))
    try:
        assert whoami(service, bearer(issuer.token("7"))).status_code == 200
        assert metric_value(issuer.auth.url, JWKS_FETCHES) == 1
        ghost = jwt.encode(
            issuer.claims("7"), issuer.private_key("ed")[0], algorithm="EdDSA", headers={"kid": "x"}
        )
        for _ in range(5):
            assert whoami(service, bearer(ghost)).status_code == 401
        assert metric_value(issuer.auth.url, JWKS_FETCHES) == 1  # made-up kids cause no fetch storm
    finally:
        service.stop()
        issuer.auth.stop()


def test_rotated_key_is_fetched_once_the_interval_has_passed(tmp_path) -> None:
    issuer = own_issuer(tmp_path)
    service = start_demo(tmp_path, issuer.env("DEMO", refetch_seconds=1))
    try:
        old = issuer.token("7")
        assert whoami(service, bearer(old)).status_code == 200
        issuer.add_key("next", activate=True)  # auth-ms re-reads its key set file
        time.sleep(1.1)
        fresh = issuer.token("7")
        assert jwt.get_unverified_header(fresh)["kid"] == "next"
        assert whoami(service, bearer(fresh)).status_code == 200
        assert whoami(service, bearer(old)).status_code == 200  # the previous key still verifies
        assert metric_value(issuer.auth.url, JWKS_FETCHES) == 2
    finally:
        service.stop()
        issuer.auth.stop()

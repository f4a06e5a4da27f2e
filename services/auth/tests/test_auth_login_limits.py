"""Login abuse limits, as real processes: auth-ms (small limits through its AUTH_LOGIN_* settings) in front
of a real users-ms on its own PostgreSQL database. A second client address is a second loopback address
(127.0.0.2) that the test binds its connections to; a proxy is a peer that sends X-Forwarded-For.

The figures the issue asks for (attempts until 429, Retry-After values, recovery time) are printed at the
end of the module (`pytest -s`)."""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from services.conftest import Service, TokenIssuer, metric_value, new_signing_key, own_database, write_keyset

LOGIN = "/auth-ms/auth/login"
OTHER_CLIENT = "127.0.0.2"
FIGURES: dict[str, object] = {}


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    if FIGURES:
        print("\nlogin limits: " + ", ".join(f"{k}={v}" for k, v in FIGURES.items()), file=sys.stderr)


@pytest.fixture(scope="module")
def users(start_service, postgres_dsn: str, token_issuer: TokenIssuer) -> Iterator[Service]:
    with own_database(postgres_dsn, "auth_limits") as database:
        env = {**database.env(), **token_issuer.env("USERS"), "USERS_BCRYPT_ROUNDS": "4"}
        service = start_service("users_service", env)
        yield service
        service.stop()  # before the database is dropped


@pytest.fixture(scope="module")
def start_auth(start_service, users: Service, tmp_path_factory):
    keyset = write_keyset(tmp_path_factory.mktemp("auth-limits") / "keyset.json", "k", [new_signing_key("k")])

    def start(**limits: str) -> Service:
        env = {
            "AUTH_USERS_URL": str(users.internal_url),
            "AUTH_JWT_KEYSET_FILE": str(keyset),
            **{f"AUTH_{name.upper()}": value for name, value in limits.items()},
        }
        return start_service("auth_service", env)

    return start


def new_user(users: Service) -> dict[str, str]:
    password = secrets.token_urlsafe(12)
    email = f"limits.{secrets.token_hex(4)}@example.org"
    body = {"name": "Ada", "surname": "Lovelace", "email": email, "password": password}
    response = httpx.post(f"{users.url}/users-ms/users", json=body)
    assert response.status_code == 201, response.text
    return {"email": email, "password": password}


def login(
    auth: Service, email: str, password: str, source: str = "127.0.0.1", forwarded_for: str | None = None
) -> httpx.Response:
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=10) as client:
        return client.post(f"{auth.url}{LOGIN}", json={"email": email, "password": password}, headers=headers)


def assert_limited(response: httpx.Response, seconds: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == str(seconds)
    assert response.json() == {
        "detail": f"too many login attempts; retry in {seconds} s",
        "retry_after": seconds,
    }


def wait_out(response: httpx.Response) -> float:
    """Sleep for the Retry-After the response names (plus a little): the time a client must wait."""
    seconds = int(response.headers["retry-after"])
    time.sleep(seconds + 0.1)
    return seconds + 0.1


def test_account_backs_off_and_recovers_without_locking_others_out(start_auth, users) -> None:
    auth = start_auth(
        login_account_free_failures="3",
        login_account_base_delay_seconds="1",
        login_account_max_delay_seconds="2",
        login_client_burst="1000",
    )
    victim, other = new_user(users), new_user(users)
    failures_before = metric_value(auth.url, "auth_login_failures_total")

    statuses = [login(auth, victim["email"], "wrong password").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]  # three free failures, the third starts a 1 s back-off
    refused = login(auth, victim["email"], victim["password"])  # even the right password: users-ms not asked
    assert_limited(refused, 1)
    # the look-alike spelling of the address is the same account (canonical e-mail)
    assert_limited(login(auth, victim["email"].upper(), victim["password"]), 1)
    assert metric_value(auth.url, "auth_login_failures_total") == failures_before + 3
    assert metric_value(auth.url, 'auth_login_limited_total{reason="account"}') == 2
    FIGURES["wrong passwords until 429"] = 3
    FIGURES["first Retry-After"] = refused.headers["retry-after"]

    # another account, from another client, is not affected
    assert login(auth, other["email"], other["password"], source=OTHER_CLIENT).status_code == 200

    # after Retry-After a wrong password doubles the delay, capped at 2 s here (60 s by default)
    wait_out(refused)
    assert login(auth, victim["email"], "wrong password").status_code == 401
    second = login(auth, victim["email"], victim["password"])
    assert_limited(second, 2)
    wait_out(second)
    assert login(auth, victim["email"], "wrong password").status_code == 401
    capped = login(auth, victim["email"], victim["password"])
    assert_limited(capped, 2)
    FIGURES["Retry-After sequence"] = "1, 2, 2 (cap)"

    # the owner gets in as soon as the delay is over, and the success forgets the failures
    started = time.monotonic()
    waited = wait_out(capped)
    assert login(auth, victim["email"], victim["password"]).status_code == 200
    FIGURES["recovery after the last failure (s)"] = (
        f"{time.monotonic() - started:.1f} (Retry-After {waited:.1f})"
    )
    statuses = [login(auth, victim["email"], "wrong password").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    assert_limited(login(auth, victim["email"], victim["password"]), 1)


def test_client_limit_counts_every_attempt_and_ignores_forwarded_for_by_default(start_auth, users) -> None:
    auth = start_auth(login_client_burst="5", login_client_per_second="0.5")
    user = new_user(users)
    # five attempts, right or wrong and for different accounts, each with a different X-Forwarded-For: the
    # peer is not a trusted proxy (none is by default), so they all count against 127.0.0.1
    statuses = [
        login(auth, f"nobody{n}@example.org", "x", forwarded_for=f"198.51.100.{n}").status_code
        for n in range(4)
    ]
    statuses.append(login(auth, user["email"], user["password"], forwarded_for="198.51.100.9").status_code)
    assert statuses == [401, 401, 401, 401, 200]
    refused = login(auth, user["email"], user["password"], forwarded_for="198.51.100.10")
    assert_limited(refused, 2)  # one token per 2 s
    FIGURES["attempts per client until 429 (burst 5)"] = 6
    assert metric_value(auth.url, 'auth_login_limited_total{reason="client"}') == 1
    # another client still gets in, and this one after Retry-After
    assert login(auth, user["email"], user["password"], source=OTHER_CLIENT).status_code == 200
    wait_out(refused)
    assert login(auth, user["email"], user["password"]).status_code == 200


def test_forwarded_for_is_used_only_from_a_trusted_proxy(start_auth, users) -> None:
    auth = start_auth(trusted_proxies="127.0.0.1/32", login_client_burst="2", login_client_per_second="0.01")
    user = new_user(users)
    # through the trusted proxy (127.0.0.1) the client is the forwarded address
    for _ in range(2):
        assert login(auth, user["email"], user["password"], forwarded_for="203.0.113.5").status_code == 200
    assert login(auth, user["email"], user["password"], forwarded_for="203.0.113.5").status_code == 429
    # a client's own claimed hops before the proxy's entry do not change its key
    spoofed = login(auth, user["email"], user["password"], forwarded_for="192.0.2.1, 203.0.113.5")
    assert spoofed.status_code == 429
    # another client behind the same proxy has its own budget
    assert login(auth, user["email"], user["password"], forwarded_for="203.0.113.6").status_code == 200

    # 127.0.0.2 is not trusted: its X-Forwarded-For is ignored, every attempt counts against 127.0.0.2
    direct = [
        login(auth, user["email"], user["password"], OTHER_CLIENT, f"203.0.113.{n}").status_code
        for n in (20, 21, 22)
    ]
    assert direct == [200, 200, 429]


def test_tracked_keys_are_bounded_and_the_oldest_is_forgotten(start_auth, users) -> None:
    auth = start_auth(
        trusted_proxies="127.0.0.1",
        login_max_tracked_keys="4",
        login_account_free_failures="1",
        login_account_base_delay_seconds="300",
        login_account_max_delay_seconds="300",
    )
    emails = [f"spray{n}.{secrets.token_hex(3)}@example.org" for n in range(6)]
    for n, email in enumerate(emails):
        assert login(auth, email, "x", forwarded_for=f"203.0.113.{n}").status_code == 401
    keys = {
        t: metric_value(auth.url, f'auth_login_limiter_tracked_keys{{table="{t}"}}')
        for t in ("account", "client")
    }
    assert keys == {"account": 4, "client": 4}
    # the newest accounts are still closed; the two oldest were evicted, so their back-off is gone
    assert_limited(login(auth, emails[-1], "x"), 300)
    assert login(auth, emails[0], "x").status_code == 401
    FIGURES["tracked keys with AUTH_LOGIN_MAX_TRACKED_KEYS=4 after 6 accounts"] = keys

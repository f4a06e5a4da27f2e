"""The rules of auth_service.limits on a hand-driven clock: what the process tests
(test_auth_login_limits.py) cannot time precisely or send concurrently."""

from __future__ import annotations

import pytest
from auth_service.limits import LoginLimiter, LoginLimits, client_address, parse_networks
from auth_service.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, **changes: float) -> LoginLimiter:
    values: dict[str, float] = {
        "free_failures": 3,
        "base_delay": 1,
        "max_delay": 60,
        "reset_after": 900,
        "client_burst": 1000,
        "client_per_second": 1,
        "max_keys": 100,
    }
    values.update(changes)
    return LoginLimiter(
        LoginLimits(
            free_failures=int(values["free_failures"]),
            base_delay=values["base_delay"],
            max_delay=values["max_delay"],
            reset_after=values["reset_after"],
            client_burst=int(values["client_burst"]),
            client_per_second=values["client_per_second"],
            max_keys=int(values["max_keys"]),
        ),
        clock,
    )


def fail(lim: LoginLimiter, account: str = "a@x.org") -> None:
    assert lim.admit(account, "c") is None
    lim.finish(account, False)


def test_delay_doubles_up_to_the_cap() -> None:
    clock = Clock()
    lim = limiter(clock, max_delay=10)
    delays = []
    for _ in range(8):
        fail(lim)
        refusal = lim.admit("a@x.org", "c")
        if refusal is None:
            lim.finish("a@x.org", None)  # the probe was admitted: give its slot back unanswered
        delays.append(refusal.retry_after if refusal else 0)
        clock.now += delays[-1]
    assert delays == [0, 0, 1, 2, 4, 8, 10, 10]


def test_parallel_attempts_cannot_exceed_the_free_failures() -> None:
    lim = limiter(Clock())
    admitted = [lim.admit("a@x.org", "c") is None for _ in range(10)]  # none answered yet
    assert admitted == [True, True, True] + [False] * 7
    for _ in range(3):
        lim.finish("a@x.org", False)
    refusal = lim.admit("a@x.org", "c")
    assert refusal is not None and refusal.reason == "account"


def test_unanswered_attempts_are_not_failures_and_quiet_time_forgets() -> None:
    clock = Clock()
    lim = limiter(clock)
    for _ in range(5):
        assert lim.admit("a@x.org", "c") is None
        lim.finish("a@x.org", None)  # users-ms unreachable: no guess was checked
    fail(lim)
    fail(lim)
    clock.now += 900
    fail(lim)  # the two earlier failures are forgotten: this is the first again
    assert lim.admit("a@x.org", "c") is None


def test_client_bucket_refills() -> None:
    clock = Clock()
    lim = limiter(clock, client_burst=2, client_per_second=0.25)
    assert lim.admit("a@x.org", "c") is None and lim.admit("b@x.org", "c") is None
    refusal = lim.admit("c@x.org", "c")
    assert refusal is not None and (refusal.reason, refusal.retry_after) == ("client", 4)
    clock.now += 4
    assert lim.admit("c@x.org", "c") is None


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("10.0.0.9", ["198.51.100.1"], "10.0.0.9"),  # untrusted peer: header ignored
        ("10.244.1.5", ["198.51.100.1"], "198.51.100.1"),
        ("10.244.1.5", ["192.0.2.7, 198.51.100.1"], "198.51.100.1"),  # the client's own entries do not count
        ("10.244.1.5", ["198.51.100.1, 10.244.2.2"], "198.51.100.1"),  # a chain of trusted proxies
        ("10.244.1.5", ["198.51.100.1", "10.244.2.2"], "198.51.100.1"),  # repeated header
        ("10.244.1.5", ["not-an-ip"], "10.244.1.5"),
        ("10.244.1.5", [], "10.244.1.5"),
        ("10.244.1.5", ["10.244.3.3"], "10.244.3.3"),  # only proxies: the farthest one
        ("2001:db8::1", ["198.51.100.1"], "198.51.100.1"),
    ],
)
def test_client_address(peer: str, header: list[str], expected: str) -> None:
    trusted = parse_networks("10.244.0.0/16, 2001:db8::/32")
    assert client_address(peer, header, trusted) == expected


def test_trusted_proxies_setting_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().trusted_proxies == ""  # no proxy trusted by default
    monkeypatch.setenv("AUTH_TRUSTED_PROXIES", "10.244.0.0/16, 300.1.1.1")
    with pytest.raises(ValueError, match=r"300\.1\.1\.1"):
        Settings()

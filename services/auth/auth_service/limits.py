"""Login abuse limits: per account (failed logins only) and per client (every attempt), kept in memory.

Account (the canonical e-mail, known or not, so a refusal says nothing about whether it exists): the
first `free_failures` wrong passwords cost nothing; each further one closes the account for a delay that
doubles from `base_delay` up to `max_delay`. While it is closed every attempt is refused without asking
users-ms and without adding a failure, so an attacker who knows an address can keep its owner out for at
most `max_delay` after their last real guess, and gets about one guess per `max_delay`. A successful login
forgets the account's failures; so does `reset_after` without a failure. Attempts already in flight count
against the free failures, so parallel requests cannot guess more than sequential ones.

Client (the peer address, or the address a trusted proxy forwarded): a token bucket of `burst` attempts
refilled at `per_second`, over every attempt (right or wrong), a bound well above what one person types.

State is per process (per pod): with N replicas behind the Service an attacker who spreads requests over
them gets up to N times the limits. Each table holds at most `max_keys` entries; a new key evicts the least
recently touched one, so memory stays bounded whatever an attacker sends.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

Clock = Callable[[], float]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
V = TypeVar("V")


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.244.0.0/16, 10.40.0.0/16` (a bare address is one host); ValueError naming a bad entry."""
    networks: list[Network] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_address(peer: str | None, forwarded_for: list[str], trusted: tuple[Network, ...]) -> str:
    """The address a login is counted against.

    The peer itself unless it is a trusted proxy. Behind trusted proxies, X-Forwarded-For is read from the
    right (each proxy appends the address it saw): the first hop that is not itself a trusted proxy is the
    client. A hop that is not an IP address ends the walk at the proxy that forwarded it, so a client
    cannot choose its own key by writing garbage or addresses into the header.
    """
    current = peer or "unknown"
    parsed = _address(current)
    if parsed is None or not _trusted(parsed, trusted):
        return current
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return current
        current = str(address)
        if not _trusted(address, trusted):
            return current
    return current


class _Table(Generic[V]):
    """At most `max_keys` entries; touching an entry makes it the newest, a new key evicts the oldest."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.entries: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V | None:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: V) -> None:
        self.entries[key] = entry
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_keys:
            self.entries.popitem(last=False)

    def pop(self, key: str) -> None:
        self.entries.pop(key, None)

    def __len__(self) -> int:
        return len(self.entries)


@dataclass
class _Account:
    failures: int = 0
    in_flight: int = 0
    closed_until: float = 0.0
    last_failure: float = 0.0


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True)
class LoginLimits:
    free_failures: int
    base_delay: float
    max_delay: float
    reset_after: float
    client_burst: int
    client_per_second: float
    max_keys: int


@dataclass(frozen=True)
class Refusal:
    reason: str  # "account" or "client": the label of the refused-attempts metric
    retry_after: int  # whole seconds, at least 1


class LoginLimiter:
    def __init__(self, limits: LoginLimits, clock: Clock = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self.accounts: _Table[_Account] = _Table(limits.max_keys)
        self.clients: _Table[_Bucket] = _Table(limits.max_keys)

    def _delay(self, failures: int) -> float:
        over = failures - self.limits.free_failures
        if over < 0:
            return 0.0
        return min(self.limits.base_delay * 2.0 ** min(over, 64), self.limits.max_delay)

    def admit(self, account: str, client: str) -> Refusal | None:
        """Check and count one attempt; None admits it (then call `finish` exactly once)."""
        now = self.clock()
        refusal = self._take_client_token(client, now)
        if refusal is not None:
            return refusal
        state = self.accounts.get(account)
        if state is not None and state.in_flight == 0 and now - state.last_failure >= self.limits.reset_after:
            state.failures, state.closed_until = 0, 0.0
        if state is None:
            state = _Account()
        if now < state.closed_until:
            return Refusal("account", max(1, math.ceil(state.closed_until - now)))
        # Free failures left for parallel attempts; once past them, one attempt at a time.
        allowed = max(self.limits.free_failures - state.failures, 1)
        if state.in_flight >= allowed:
            return Refusal("account", 1)
        state.in_flight += 1
        self.accounts.put(account, state)
        return None

    def finish(self, account: str, succeeded: bool | None) -> None:
        """After users-ms answered: True (right password), False (wrong), None (no answer: not counted)."""
        state = self.accounts.get(account)
        if state is None:  # evicted meanwhile: nothing to update
            return
        state.in_flight = max(state.in_flight - 1, 0)
        if succeeded:
            self.accounts.pop(account)
        elif succeeded is False:
            now = self.clock()
            state.failures += 1
            state.last_failure = now
            delay = self._delay(state.failures)
            if delay:
                state.closed_until = max(state.closed_until, now + delay)

    def _take_client_token(self, client: str, now: float) -> Refusal | None:
        limits = self.limits
        bucket = self.clients.get(client)
        if bucket is None:
            bucket = _Bucket(float(limits.client_burst), now)
        else:
            bucket.tokens = min(
                float(limits.client_burst), bucket.tokens + (now - bucket.updated) * limits.client_per_second
            )
            bucket.updated = now
        self.clients.put(client, bucket)
        if bucket.tokens < 1.0:
            return Refusal("client", max(1, math.ceil((1.0 - bucket.tokens) / limits.client_per_second)))
        bucket.tokens -= 1.0
        return None

    def tracked(self) -> dict[str, int]:
        return {"account": len(self.accounts), "client": len(self.clients)}

"""Benchmark of the login path (`make bench`): prints figures; `platformctl bench` judges the rows.

Run: .venv/bin/python services/bench.py [--json FILE]

1. bcrypt hashes/s at the configured cost (USERS_BCRYPT_ROUNDS, default of the users settings), one
   thread per core: the physical bound of logins on this machine.
2. logins/s through real auth-ms + users-ms processes (users-ms with one worker per core), closed loop.
3. row "logins/s vs bcrypt": logins/s against hashes/s (goal: ratio >= 0.9). The two are measured in
   alternating windows (bcrypt, logins, bcrypt, ..., bcrypt), so that drift in the CPU a shared machine
   leaves us hits both alike; each figure is its total count over its total time.
4. p50/p99 of GET /users-ms/users/{id} at a fixed request rate (open loop: latency is measured from
   the scheduled send time, so a stall is not hidden). Information only: no reference, no goal.
5. row "401 unknown user vs wrong password": median login time for an unknown e-mail against a wrong
   password, sampled alternately (should be equal thanks to the dummy hash; goal: ratio 0.8..1.25).

Needs the machine's PostgreSQL and RabbitMQ on loopback (a throw-away database and vhost are created and
removed); all traffic stays on loopback; the whole run takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import psycopg
from openapi_export import write_keyset  # beside this script (run as `python services/bench.py`)
from users_service.migrate import migrate
from users_service.settings import Settings as UsersSettings

POSTGRES_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ = ("127.0.0.1", "5672", "guest", "guest")
CORES = os.cpu_count() or 1
LOGIN_WINDOWS, LOGIN_SECONDS, BCRYPT_SECONDS = 3, 5.0, 2.5  # bcrypt windows: one more than login windows
GET_RATE, GET_SECONDS = 50, 10.0
LOGIN_401_SAMPLES = 10  # of each kind
GOAL_LOGIN_RATIO = 0.9
GOAL_401_RATIO = (0.8, 1.25)


def check_loopback(dsn: str) -> None:
    """The benchmark's traffic stays on this machine: refuse a PostgreSQL that is not on loopback."""
    host = str(psycopg.conninfo.conninfo_to_dict(dsn).get("host") or "127.0.0.1")
    if host.startswith("/") or host == "localhost":  # a Unix socket, or the loopback name
        return
    try:
        loopback = all(ipaddress.ip_address(h).is_loopback for h in host.split(","))
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"BENCH_POSTGRES_DSN must point at loopback (host {host!r} is not)")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bcrypt_count(rounds: int, seconds: float) -> tuple[int, float]:
    """(hashes, elapsed seconds) with one thread per core (bcrypt releases the GIL)."""
    deadline = time.monotonic() + seconds

    def worker() -> int:
        done = 0
        while time.monotonic() < deadline:
            bcrypt.hashpw(b"benchmark-password", bcrypt.gensalt(rounds))
            done += 1
        return done

    started = time.monotonic()
    with ThreadPoolExecutor(CORES) as pool:
        total = sum(pool.map(lambda _: worker(), range(CORES)))
    return total, time.monotonic() - started


@contextmanager
def database() -> Iterator[str]:
    name = f"users_bench_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        migrate(psycopg.conninfo.make_conninfo(POSTGRES_DSN, dbname=name))
        yield name
    finally:
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def vhost() -> Iterator[str | None]:
    """A throw-away vhost with a queue bound to the exchange, or None without rabbitmqctl."""
    tool = shutil.which("rabbitmqctl")
    if tool is None:
        yield None
        return
    name = f"bench-{secrets.token_hex(3)}"
    subprocess.run([tool, "-q", "add_vhost", name], check=True, capture_output=True, timeout=60)
    subprocess.run(
        [tool, "-q", "set_permissions", "-p", name, RABBITMQ[2], ".*", ".*", ".*"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    try:
        yield name
    finally:
        subprocess.run([tool, "-q", "delete_vhost", name], capture_output=True, timeout=60)


def bind_probe_queue(vhost_name: str) -> None:
    import aio_pika

    async def declare() -> None:
        connection = await aio_pika.connect(
            host=RABBITMQ[0],
            port=int(RABBITMQ[1]),
            login=RABBITMQ[2],
            password=RABBITMQ[3],
            virtualhost=vhost_name,
        )
        async with connection:
            channel = await connection.channel()
            fanout = aio_pika.ExchangeType.FANOUT
            exchange = await channel.declare_exchange("user_login_event", fanout, durable=True)
            queue = await channel.declare_queue("bench-probe", durable=True)
            await queue.bind(exchange)

    asyncio.run(declare())


def start(
    package: str, env: dict[str, str], log_dir: Path, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = port or free_port()
    prefix = package.removesuffix("_service").upper()
    log = (log_dir / f"{package}.log").open("wb")
    full_env = {**os.environ, **env, f"{prefix}_PORT": str(port), f"{prefix}_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", package]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=full_env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, url
        time.sleep(0.2)
    raise SystemExit(f"{package} did not become ready; see {log_dir}/{package}.log")


async def login_count(auth: str, credentials: dict[str, str], seconds: float) -> tuple[int, int, float]:
    """(successful logins, failed logins, elapsed seconds) of a closed loop of 2 clients per core."""
    deadline = time.monotonic() + seconds
    counts = {"ok": 0, "failed": 0}

    async def client_loop(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            response = await client.post(f"{auth}/auth-ms/auth/login", json=credentials)
            counts["ok" if response.status_code == 200 else "failed"] += 1

    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(CORES * 2)))
    return counts["ok"], counts["failed"], time.monotonic() - started


async def fixed_rate_latencies(url: str, headers: dict[str, str]) -> list[float]:
    latencies: list[float] = []

    async def one(client: httpx.AsyncClient, scheduled: float) -> None:
        await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
        response = await client.get(url, headers=headers)
        response.raise_for_status()
        latencies.append(time.monotonic() - scheduled)

    start_at = time.monotonic() + 0.5
    total = int(GET_RATE * GET_SECONDS)
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50)) as client:
        await asyncio.gather(*(one(client, start_at + i / GET_RATE) for i in range(total)))
    return sorted(latencies)


async def login_401_seconds(
    auth: str, bodies: dict[str, dict[str, str]], times: int = LOGIN_401_SAMPLES
) -> dict[str, float]:
    """Median time of a refused login per kind; the kinds alternate so that drift hits them alike."""
    samples: dict[str, list[float]] = {kind: [] for kind in bodies}
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(times):
            for kind, body in bodies.items():
                started = time.perf_counter()
                response = await client.post(f"{auth}/auth-ms/auth/login", json=body)
                samples[kind].append(time.perf_counter() - started)
                if response.status_code != 401:
                    raise SystemExit(f"login with {kind} answered {response.status_code}, not 401")
    return {kind: statistics.median(values) for kind, values in samples.items()}


def run(folder: Path, db_name: str, vhost_name: str | None) -> dict[str, float]:
    rounds = UsersSettings().bcrypt_rounds
    figures: dict[str, float] = {"cores": CORES, "bcrypt_rounds": rounds}
    figures["load_average_1m"] = os.getloadavg()[0]
    info = psycopg.conninfo.conninfo_to_dict(POSTGRES_DSN)
    (folder / "rabbit-user").write_text(RABBITMQ[2])
    (folder / "rabbit-password").write_text(RABBITMQ[3])
    internal_port = free_port()  # the credential check auth-ms calls is on users-ms's internal port only
    auth_port = free_port()  # users-ms verifies the tokens auth-ms issues against its JWKS
    users, users_url = start(
        "users_service",
        {
            "USERS_INTERNAL_PORT": str(internal_port),
            "USERS_JWKS_URL": f"http://127.0.0.1:{auth_port}/auth-ms/.well-known/jwks.json",
            "USERS_DB_HOST": str(info.get("host", "127.0.0.1")),
            "USERS_DB_PORT": str(info.get("port", 5432)),
            "USERS_DB_NAME": db_name,
            "USERS_DB_USER": str(info.get("user", "postgres")),
            "USERS_WORKERS": str(CORES),
            "USERS_BCRYPT_ROUNDS": str(rounds),
            # each login writes its event to the outbox; the relay publishes it (as in production)
            "USERS_RABBITMQ_HOST": RABBITMQ[0],
            "USERS_RABBITMQ_PORT": RABBITMQ[1],
            "USERS_RABBITMQ_VHOST": vhost_name or "absent",
            "USERS_RABBITMQ_USERNAME_FILE": str(folder / "rabbit-user"),
            "USERS_RABBITMQ_PASSWORD_FILE": str(folder / "rabbit-password"),
        },
        folder,
    )
    auth, auth_url = start(
        "auth_service",
        {
            "AUTH_USERS_URL": f"http://127.0.0.1:{internal_port}",
            "AUTH_JWT_KEYSET_FILE": str(write_keyset(folder, "bench")),
            # Every bench client shares 127.0.0.1: the per-client bucket (1/s, burst 60) would turn the
            # throughput loop into 429s; the timing of refused logins (401) needs more than the account's 5
            # free failures. The limits themselves are measured by their tests, not here.
            "AUTH_LOGIN_CLIENT_BURST": "1000000",
            "AUTH_LOGIN_CLIENT_PER_SECOND": "100000",
            "AUTH_LOGIN_ACCOUNT_FREE_FAILURES": "1000",
        },
        folder,
        auth_port,
    )
    try:
        email = f"bench.{secrets.token_hex(4)}@example.org"
        credentials = {"email": email, "password": secrets.token_urlsafe(12)}
        created = httpx.post(
            f"{users_url}/users-ms/users",
            timeout=60,
            json={"name": "Bench", "surname": "Mark", **credentials},
        ).json()
        # bcrypt and logins in alternating windows, bcrypt first and last: on a shared machine the CPU
        # available drifts, and the ratio must compare like with like.
        hashes = [bcrypt_count(rounds, BCRYPT_SECONDS)]
        logins = []
        for _ in range(LOGIN_WINDOWS):
            logins.append(asyncio.run(login_count(auth_url, credentials, LOGIN_SECONDS)))
            hashes.append(bcrypt_count(rounds, BCRYPT_SECONDS))
        bound = sum(n for n, _ in hashes) / sum(t for _, t in hashes)
        rate = sum(ok for ok, _, _ in logins) / sum(t for _, _, t in logins)
        windows = [n / t for n, t in hashes]
        figures |= {
            "bcrypt_hashes_per_s": bound,
            "bcrypt_hashes_per_s_lowest_window": min(windows),
            "bcrypt_hashes_per_s_highest_window": max(windows),
            "logins_per_s": rate,
            "login_errors": sum(failed for _, failed, _ in logins),
            "ratio_logins_to_bcrypt": rate / bound,
        }
        token = httpx.post(f"{auth_url}/auth-ms/auth/login", json=credentials, timeout=60).json()
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        latencies = asyncio.run(fixed_rate_latencies(f"{users_url}/users-ms/users/{created['id']}", bearer))
        figures |= {
            "get_user_rate_per_s": GET_RATE,
            "get_user_requests": len(latencies),
            "get_user_p50_ms": latencies[len(latencies) // 2] * 1000,
            "get_user_p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        }
        refused = asyncio.run(
            login_401_seconds(
                auth_url,
                {
                    "wrong password": {**credentials, "password": "wrong-password"},
                    "unknown user": {**credentials, "email": "nobody@example.org"},
                },
            )
        )
        figures |= {
            "login_401_wrong_password_median_ms": refused["wrong password"] * 1000,
            "login_401_unknown_user_median_ms": refused["unknown user"] * 1000,
            "load_average_1m_end": os.getloadavg()[0],
        }
    finally:
        for proc in (auth, users):
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    return figures


def rows(figures: dict[str, float]) -> list[dict[str, Any]]:
    """The rows for `platformctl bench` (see platformctl.commands.bench): figure and reference per row."""
    low, high = GOAL_401_RATIO
    return [
        {
            "name": "logins/s vs bcrypt",
            "unit": "/s",
            "figure": figures["logins_per_s"],
            "reference": figures["bcrypt_hashes_per_s"],
            "reference_is": "(bcrypt hashes, all cores)",
            "goal": {"min": GOAL_LOGIN_RATIO},
        },
        {
            "name": "401 unknown user vs wrong password",
            "unit": "ms",
            "figure": figures["login_401_unknown_user_median_ms"],
            "reference": figures["login_401_wrong_password_median_ms"],
            "reference_is": "(wrong password)",
            "goal": {"min": low, "max": high},
        },
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the rows for `platformctl bench` to this file")
    args = parser.parse_args()
    check_loopback(POSTGRES_DSN)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, database() as db_name, vhost() as vhost_name:
        if vhost_name:
            bind_probe_queue(vhost_name)
        figures = run(Path(tmp), db_name, vhost_name)
    for name, value in figures.items():
        print(f"{name:36} {value:.2f}" if isinstance(value, float) else f"{name:36} {value}")
    print(f"{'bench_wall_s':36} {time.monotonic() - started:.1f}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows(figures), "figures": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

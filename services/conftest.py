"""Fixtures shared by the three services' tests: a throw-away PostgreSQL database, throw-away RabbitMQ
vhosts (through `rabbitmqctl`, since the machine's RabbitMQ has no management API), a helper that runs
a service as a real subprocess on a free loopback port, and a token issuer (a real auth-ms publishing the
JWKS of a key set the tests also sign with)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import boto3
import httpx
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tests.fixtures.servers import S3Server, free_port, wait_until


@dataclass(frozen=True)
class Database:
    host: str
    port: int
    name: str
    user: str

    def env(self) -> dict[str, str]:
        return {
            "USERS_DB_HOST": self.host,
            "USERS_DB_PORT": str(self.port),
            "USERS_DB_NAME": self.name,
            "USERS_DB_USER": self.user,
        }


@contextmanager
def own_database(postgres_dsn: str, purpose: str) -> Iterator[Database]:
    """A fresh, migrated database of its own (`<purpose>_<random>`), dropped afterwards."""
    from users_service.migrate import migrate

    name = f"{purpose}_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    info = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    database = Database(
        str(info.get("host", "127.0.0.1")),
        int(info.get("port", 5432)),
        name,
        str(info.get("user", "postgres")),
    )
    try:
        migrate(psycopg.conninfo.make_conninfo(postgres_dsn, dbname=name))
        yield database
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def users_database(postgres_dsn: str) -> Iterator[Database]:
    """A fresh, migrated database for this session, dropped at the end."""
    with own_database(postgres_dsn, "users_test") as database:
        yield database


@pytest.fixture(scope="module")
def users_apps(users_database: Database, token_issuer: TokenIssuer) -> tuple[Any, int]:
    """users-ms's public app (in process, on the session database, trusting the test issuer) and the
    port of its internal app (`app.extra[port]`)."""
    from users_service.app import create_app
    from users_service.settings import Settings

    settings = Settings(
        db_host=users_database.host,
        db_port=users_database.port,
        db_name=users_database.name,
        db_user=users_database.user,
        bcrypt_rounds=4,
        jwks_url=token_issuer.jwks_url,
        jwt_issuer=token_issuer.issuer,
        jwt_audience=token_issuer.audience,
    )
    return create_app(settings), settings.internal_port


def _rabbitmqctl(*args: str) -> None:
    tool = shutil.which("rabbitmqctl")
    if tool is None:
        pytest.fail("rabbitmqctl not found: service tests create their own RabbitMQ vhosts with it")
    subprocess.run([tool, "-q", *args], check=True, capture_output=True, timeout=60)


@dataclass
class Vhosts:
    """Creates vhosts named after the session; `guest` gets full rights on each."""

    base_url: str
    created: list[str] = field(default_factory=list)

    def new(self, purpose: str) -> str:
        name = f"svc-test-{purpose}-{secrets.token_hex(3)}"
        _rabbitmqctl("add_vhost", name)
        self.created.append(name)
        user = urllib.parse.urlsplit(self.base_url).username or "guest"
        _rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
        return name

    def delete(self, name: str) -> None:
        _rabbitmqctl("delete_vhost", name)
        self.created.remove(name)

    def url(self, vhost: str) -> str:
        parts = urllib.parse.urlsplit(self.base_url)
        return parts._replace(path="/" + urllib.parse.quote(vhost, safe="")).geturl()


@pytest.fixture(scope="session")
def vhosts(rabbitmq_url: str) -> Iterator[Vhosts]:
    registry = Vhosts(rabbitmq_url)
    try:
        yield registry
    finally:
        with ThreadPoolExecutor(4) as pool:  # each rabbitmqctl call starts an Erlang VM (~0.5 s)
            list(pool.map(registry.delete, list(registry.created)))


@pytest.fixture(scope="session")
def rabbit_credentials(rabbitmq_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Host, port and secret files (as mounted from a Secret) for the machine's RabbitMQ user."""
    parts = urllib.parse.urlsplit(rabbitmq_url)
    folder = tmp_path_factory.mktemp("rabbitmq-app")
    (folder / "username").write_text(parts.username or "guest")
    (folder / "password").write_text(parts.password or "guest")
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": str(parts.port or 5672),
        "username_file": str(folder / "username"),
        "password_file": str(folder / "password"),
    }


@dataclass
class Service:
    """A service running as `python -m <package>`; stopped by PID with SIGTERM."""

    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    internal_url: str | None = None  # users-ms: the port of the credential check

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return int(self.proc.returncode)


Starter = Callable[[str, dict[str, str]], Service]


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def spawn(package: str, env: dict[str, str], folder: Path) -> Service:
    """`python -m <package>` on a free port (users-ms: two), waited for until /healthz answers."""
    port = free_port()
    prefix = package.removesuffix("_service").upper()
    ports = {f"{prefix}_PORT": str(port)}
    if package == "users_service":
        ports["USERS_INTERNAL_PORT"] = env.get("USERS_INTERNAL_PORT") or str(free_port())
    log_path = folder / f"{package}-{port}.log"
    full_env = {**os.environ, **env, **ports, "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", package], env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    internal = ports.get("USERS_INTERNAL_PORT")
    internal_url = f"http://127.0.0.1:{internal}" if internal else None
    service = Service(package, f"http://127.0.0.1:{port}", proc, log_path, internal_url)
    try:
        wait_until(lambda: proc.poll() is None and _healthy(service.url), 30, package)
    except TimeoutError:
        service.stop()
        pytest.fail(f"{package} did not start:\n{service.log()[-3000:]}")
    return service


@pytest.fixture(scope="module")
def start_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starter]:
    """Start `python -m <package>` with extra environment; every service is stopped when the module ends."""
    started: list[Service] = []
    tmp_path = tmp_path_factory.mktemp("services")

    def start(package: str, env: dict[str, str]) -> Service:
        service = spawn(package, env, tmp_path)
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


ISSUER, AUDIENCE = "auth-test", "platform-test"


@dataclass
class TokenIssuer:
    """A real auth-ms serving the JWKS of `keyset`; `token()` signs with the same private keys, so the
    tests can also make tokens auth-ms would never issue (expired, wrong audience, other key...)."""

    auth: Service
    keyset: Path
    issuer: str = ISSUER
    audience: str = AUDIENCE

    @property
    def jwks_url(self) -> str:
        return f"{self.auth.url}/auth-ms/.well-known/jwks.json"

    def env(self, prefix: str, refetch_seconds: float = 0) -> dict[str, str]:
        """Settings of a service that checks this issuer's tokens (`prefix`: USERS, NOTIFICATIONS...)."""
        return {
            f"{prefix}_JWKS_URL": self.jwks_url,
            f"{prefix}_JWT_ISSUER": self.issuer,
            f"{prefix}_JWT_AUDIENCE": self.audience,
            f"{prefix}_JWKS_REFETCH_SECONDS": str(refetch_seconds),
        }

    def private_key(self, kid: str) -> tuple[Any, str]:
        entry = next(k for k in json.loads(self.keyset.read_text())["keys"] if k["kid"] == kid)
        key = serialization.load_pem_private_key(entry["private_key_pem"].encode(), password=None)
        return key, entry["alg"]

    def claims(self, subject: object, role: str = "user", **overrides: object) -> dict[str, object]:
        now = int(time.time())
        base: dict[str, object] = {
            "sub": str(subject),
            "role": role,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        return {key: value for key, value in {**base, **overrides}.items() if value is not None}

    def token(self, subject: object, role: str = "user", kid: str | None = None, **overrides: object) -> str:
        """A token signed with `kid` (default: the active key); a claim overridden with None is left out."""
        kid = kid or json.loads(self.keyset.read_text())["active_kid"]
        key, alg = self.private_key(kid)
        return jwt.encode(self.claims(subject, role, **overrides), key, algorithm=alg, headers={"kid": kid})

    def add_key(self, kid: str, alg: str = "EdDSA", activate: bool = False) -> None:
        """Rotate: add a key to the set (atomically, as the kubelet swaps a Secret file)."""
        current = json.loads(self.keyset.read_text())
        active = kid if activate else current["active_kid"]
        staged = write_keyset(
            self.keyset.with_suffix(".next"), active, [*current["keys"], new_signing_key(kid, alg)]
        )
        staged.replace(self.keyset)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def start_issuer(folder: Path) -> TokenIssuer:
    """auth-ms on key set {ed (EdDSA, active), rsa (RS256)}; users-ms and RabbitMQ are not needed for JWKS."""
    keyset = write_keyset(
        folder / "keyset.json", "ed", [new_signing_key("ed"), new_signing_key("rsa", "RS256")]
    )
    env = {
        "AUTH_JWT_KEYSET_FILE": str(keyset),
        "AUTH_JWT_ISSUER": ISSUER,
        "AUTH_JWT_AUDIENCE": AUDIENCE,
        "AUTH_USERS_URL": "http://127.0.0.1:9",
    }
    return TokenIssuer(spawn("auth_service", env, folder), keyset)


@pytest.fixture(scope="session")
def token_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenIssuer]:
    """One issuer per test session (per xdist worker); tests that rotate its keys only ever add keys."""
    issuer = start_issuer(tmp_path_factory.mktemp("token-issuer"))
    yield issuer
    issuer.auth.stop()


def amqp_publish(url: str, exchange: str, body: bytes, message_id: str | None = None) -> None:
    """Publish one persistent message with confirms (the test acting as another producer)."""

    async def publish() -> None:
        connection = await aio_pika.connect(url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            target = await channel.get_exchange(exchange)
            await target.publish(
                aio_pika.Message(body, message_id=message_id, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                "",
            )

    asyncio.run(publish())


def amqp_get(url: str, queue: str) -> aio_pika.abc.AbstractIncomingMessage | None:
    """Take one message from `queue` (acked), or None when it is empty."""

    async def get() -> aio_pika.abc.AbstractIncomingMessage | None:
        connection = await aio_pika.connect(url)
        async with connection:
            channel = await connection.channel()
            source = await channel.get_queue(queue)
            message = await source.get(fail=False)
            if message is not None:
                await message.ack()
            return message

    return asyncio.run(get())


def metric_value(base_url: str, sample: str) -> float:
    """Value of one sample line (name plus labels as printed) from a service's /metrics; 0 when absent."""
    for line in httpx.get(f"{base_url}/metrics", timeout=5).text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def new_signing_key(kid: str, alg: str = "EdDSA") -> dict[str, str]:
    """One entry of the keyset.json format in docs/architecture.md, with a fresh private key."""
    key = ed25519.Ed25519PrivateKey.generate() if alg == "EdDSA" else rsa.generate_private_key(65537, 2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {"kid": kid, "alg": alg, "private_key_pem": pem, "created_at": "2026-11-22T00:00:00Z"}


def write_keyset(path: Path, active_kid: str, keys: list[dict[str, str]]) -> Path:
    path.write_text(json.dumps({"active_kid": active_kid, "keys": keys}))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def notifications_env(
    s3_server: S3Server,
    rabbit_credentials: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    token_issuer: TokenIssuer,
) -> Callable[[str, str], dict[str, str]]:
    """Environment for notifications-ms on a given vhost and bucket, secrets as mounted files, checking
    the tokens of `token_issuer`."""
    folder = tmp_path_factory.mktemp("notifications-s3")
    (folder / "access-key").write_text(s3_server.access_key)
    (folder / "secret-key").write_text(s3_server.secret_key)

    def env(vhost: str, bucket: str) -> dict[str, str]:
        return {
            **token_issuer.env("NOTIFICATIONS"),
            "NOTIFICATIONS_RABBITMQ_HOST": rabbit_credentials["host"],
            "NOTIFICATIONS_RABBITMQ_PORT": rabbit_credentials["port"],
            "NOTIFICATIONS_RABBITMQ_VHOST": vhost,
            "NOTIFICATIONS_RABBITMQ_USERNAME_FILE": rabbit_credentials["username_file"],
            "NOTIFICATIONS_RABBITMQ_PASSWORD_FILE": rabbit_credentials["password_file"],
            "NOTIFICATIONS_S3_ENDPOINT": s3_server.endpoint,
            "NOTIFICATIONS_S3_REGION": s3_server.region,
            "NOTIFICATIONS_S3_BUCKET": bucket,
            "NOTIFICATIONS_S3_ACCESS_KEY_FILE": str(folder / "access-key"),
            "NOTIFICATIONS_S3_SECRET_KEY_FILE": str(folder / "secret-key"),
        }

    return env


@pytest.fixture(scope="session")
def s3_client(s3_server: S3Server) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        region_name=s3_server.region,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
    )


def object_keys(s3_client: Any, bucket: str, prefix: str) -> list[str]:
    listing = s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", [])]


def wait_ready(url: str, timeout: float = 30) -> None:
    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, timeout, f"{url}/readyz")


def amqp_bind_queue(url: str, exchange: str, queue: str) -> None:
    """Declare a durable fanout exchange and a queue bound to it (so published events are routable)."""

    async def declare() -> None:
        connection = await aio_pika.connect(url)
        async with connection:
            channel = await connection.channel()
            target = await channel.declare_exchange(exchange, aio_pika.ExchangeType.FANOUT, durable=True)
            bound = await channel.declare_queue(queue, durable=True)
            await bound.bind(target)

    asyncio.run(declare())

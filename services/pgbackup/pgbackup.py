"""pgbackup: logical backups of one PostgreSQL database into S3, encrypted on the client; and their restore.

It runs in the pgbackup image (the database's own PostgreSQL image plus Python, so that pg_dump and
pg_restore are of the server's major version) as the backup CronJob of charts/postgresql and as the Jobs
that `platformctl backup run|list|restore` start from that CronJob's template (docs/adr/0008-*).

    pgbackup backup [--label LABEL] [--no-prune]
    pgbackup list
    pgbackup restore [--name NAME] [--into running|fresh] [--target-db DB] [--force] [--dry-run]

Settings come from the environment (`PGBACKUP_*`, see Settings.from_env); secrets only as files: the
database password, the S3 key pair and the encryption key are read from mounted Secret files; the
password reaches pg_dump/pg_restore/psql in a private libpq password file, never a command line, an
environment variable or a log line.

Objects, under `<bucket>/<prefix><database>/`:
    <name>.pgdump.enc   the `pg_dump --format=custom` stream, encrypted (format below)
    <name>.json         the manifest, written last: a backup without it is incomplete, never restored
with <name> = <UTC start, 20250101T021700Z>-<label>. Retention after each backup: the newest `keep last`
good backups stay whatever their age; every other one goes once it is older than `max age days`;
incomplete objects go after a day.

Encryption (format pgbackup/1): header `PGBK`, version 1, key id (8 bytes), salt (16), chunk size (4,
big-endian); the data key is HKDF-SHA256(encryption key, salt, "pgbackup v1 data key"); the plaintext is
cut into chunks, each sealed with AES-256-GCM under the nonce <11-byte chunk counter><final flag> with
the header as associated data, and written as <4-byte length><ciphertext+tag>. Reordered, dropped,
appended or altered chunks, and a stream cut at a chunk boundary, all fail authentication; the key id
(HMAC-SHA256 of the key) says which key a backup needs without revealing it.

The last output line is one JSON object, {"event": "result", ...} or {"event": "error", ...}, that
platformctl reads from the pod's log. Exit codes: 0 done, 1 failed, 2 usage, 3 refused (the target holds
data and --force is missing, or a fresh target exists).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import io
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

FORMAT = "pgbackup/1"
MAGIC = b"PGBK"
VERSION = 1
CHUNK = 1 << 20
TAG = 16
HEADER = struct.Struct(">4sB8s16sI")
FRAME = struct.Struct(">I")
DATA_SUFFIX = ".pgdump.enc"
MANIFEST_SUFFIX = ".json"
STAMP = "%Y%m%dT%H%M%SZ"
NAME = re.compile(r"^\d{8}T\d{6}Z-[a-z][a-z0-9-]{0,30}$")
LABEL = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
INCOMPLETE_GRACE = timedelta(days=1)
MIN_KEY_LENGTH = 32
REFUSED = 3


class BackupError(Exception):
    """One line for the operator: what failed and what to do."""

    exit_code = 1


class Refused(BackupError):
    exit_code = REFUSED


Say = Callable[[str], None]


def _stderr(message: str) -> None:
    print(f"pgbackup: {message}", file=sys.stderr, flush=True)


# --- settings ------------------------------------------------------------------------------------------


def _secret_file(environ: Mapping[str, str], name: str) -> str:
    path = environ.get(name)
    if not path:
        raise BackupError(f"{name} is not set; it names the mounted Secret file to read")
    try:
        return Path(path).read_text().rstrip("\r\n")
    except OSError as exc:
        raise BackupError(f"{name}: cannot read {path} ({exc.strerror}); is the Secret mounted?") from None


def _setting(environ: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = environ.get(name, default)
    if not value:
        raise BackupError(f"{name} is not set")
    return value


def _number(environ: Mapping[str, str], name: str, default: str) -> int:
    raw = _setting(environ, name, default)
    if not raw.isdigit():
        raise BackupError(f"{name} must be a whole number, not {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Settings:
    db_host: str
    db_port: int
    db_user: str
    db_password: str = field(repr=False)
    database: str
    owner: str
    endpoint: str
    region: str
    bucket: str
    prefix: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    key: bytes = field(repr=False)
    keep_last: int = 7
    max_age_days: int = 14

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        key = _secret_file(environ, "PGBACKUP_KEY_FILE").encode()
        if len(key) < MIN_KEY_LENGTH:
            raise BackupError(
                f"the encryption key in PGBACKUP_KEY_FILE has {len(key)} characters; it needs at least "
                f"{MIN_KEY_LENGTH} (a random value from Vault)"
            )
        database = _setting(environ, "PGBACKUP_DB_NAME")
        owner = _setting(environ, "PGBACKUP_DB_OWNER", database)
        for name, value in (("PGBACKUP_DB_NAME", database), ("PGBACKUP_DB_OWNER", owner)):
            if not IDENTIFIER.match(value):
                raise BackupError(f"{name} {value!r} is not a plain lower-case PostgreSQL name")
        prefix = environ.get("PGBACKUP_S3_PREFIX", "")
        if prefix and not prefix.endswith("/"):
            raise BackupError(f"PGBACKUP_S3_PREFIX {prefix!r} must end with '/'")
        settings = cls(
            db_host=_setting(environ, "PGBACKUP_DB_HOST"),
            db_port=_number(environ, "PGBACKUP_DB_PORT", "5432"),
            db_user=_setting(environ, "PGBACKUP_DB_USER", "postgres"),
            db_password=_secret_file(environ, "PGBACKUP_DB_PASSWORD_FILE"),
            database=database,
            owner=owner,
            endpoint=_setting(environ, "PGBACKUP_S3_ENDPOINT"),
            region=_setting(environ, "PGBACKUP_S3_REGION", "us-east-1"),
            bucket=_setting(environ, "PGBACKUP_S3_BUCKET"),
            prefix=prefix,
            access_key=_secret_file(environ, "PGBACKUP_S3_ACCESS_KEY_FILE"),
            secret_key=_secret_file(environ, "PGBACKUP_S3_SECRET_KEY_FILE"),
            key=key,
            keep_last=_number(environ, "PGBACKUP_KEEP_LAST", "7"),
            max_age_days=_number(environ, "PGBACKUP_MAX_AGE_DAYS", "14"),
        )
        if settings.keep_last < 1:
            raise BackupError("PGBACKUP_KEEP_LAST must be at least 1: the newest backup is never pruned")
        return settings

    @property
    def folder(self) -> str:
        return f"{self.prefix}{self.database}/"

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for the tests that prove none reaches an argument or a log line."""
        return (self.db_password, self.access_key, self.secret_key, self.key.decode())


# --- encryption ----------------------------------------------------------------------------------------


def key_id(key: bytes) -> str:
    """Names the key a backup was sealed with, without revealing it."""
    return hmac.new(key, b"pgbackup key id", hashlib.sha256).hexdigest()[:16]


def _data_key(key: bytes, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"pgbackup v1 data key").derive(key)


def _nonce(counter: int, final: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def _read_full(read: Callable[[int], bytes], size: int) -> bytes:
    """Up to `size` bytes; fewer only at the end of the stream (pipes return short reads)."""
    parts, missing = [], size
    while missing:
        part = read(missing)
        if not part:
            break
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


def encrypt(read: Callable[[int], bytes], key: bytes, chunk: int = CHUNK) -> Iterator[bytes]:
    """The encrypted stream of everything `read` returns, block by block."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt = os.urandom(16)
    header = HEADER.pack(MAGIC, VERSION, bytes.fromhex(key_id(key)), salt, chunk)
    yield header
    aead = AESGCM(_data_key(key, salt))
    counter, current = 0, _read_full(read, chunk)
    while True:
        following = _read_full(read, chunk) if len(current) == chunk else b""
        final = not following
        sealed = aead.encrypt(_nonce(counter, final), current, header)
        yield FRAME.pack(len(sealed)) + sealed
        if final:
            return
        counter, current = counter + 1, following


def _frame(read: Callable[[int], bytes], chunk: int) -> bytes | None:
    size = _read_full(read, FRAME.size)
    if not size:
        return None
    if len(size) < FRAME.size:
        raise BackupError("the backup object is truncated (inside a chunk's length)")
    (length,) = FRAME.unpack(size)
    if not TAG <= length <= chunk + TAG:
        raise BackupError("the backup object is damaged (a chunk length is out of range)")
    body = _read_full(read, length)
    if len(body) < length:
        raise BackupError("the backup object is truncated (inside a chunk)")
    return body


def decrypt(read: Callable[[int], bytes], key: bytes) -> Iterator[bytes]:
    """The plaintext of an encrypted stream; raises BackupError on a wrong key, damage or truncation."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header = _read_full(read, HEADER.size)
    if len(header) < HEADER.size:
        raise BackupError("not a pgbackup object (shorter than its header)")
    magic, version, kid, salt, chunk = HEADER.unpack(header)
    if magic != MAGIC or version != VERSION:
        raise BackupError(f"not a {FORMAT} object (magic {magic!r}, version {version})")
    if kid.hex() != key_id(key):
        raise BackupError(
            f"this backup was encrypted with key id {kid.hex()}, the mounted key is {key_id(key)}: mount "
            "the encryption key (Vault kv/<env>/postgresql-backup, an earlier KV version) that has that id"
        )
    if not 1 <= chunk <= 64 * CHUNK:
        raise BackupError("the backup object is damaged (chunk size out of range)")
    aead = AESGCM(_data_key(key, salt))
    counter, current = 0, _frame(read, chunk)
    if current is None:
        raise BackupError("the backup object is truncated (no data after its header)")
    while True:
        following = _frame(read, chunk)
        final = following is None
        try:
            yield aead.decrypt(_nonce(counter, final), current, header)
        except InvalidTag:
            raise BackupError(
                f"the backup object is damaged or truncated (chunk {counter} fails authentication)"
            ) from None
        if following is None:
            return
        counter, current = counter + 1, following


class _Stream(io.RawIOBase):
    """A readable file over an iterator of blocks, counting and hashing what passes through."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks, self._pending = blocks, b""
        self.size, self.digest = 0, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._pending = block
            self.size += len(block)
            self.digest.update(block)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


# --- PostgreSQL ----------------------------------------------------------------------------------------


def _escape(field: str) -> str:
    return field.replace("\\", "\\\\").replace(":", "\\:")


@contextlib.contextmanager
def _libpq(settings: Settings) -> Iterator[dict[str, str]]:
    """libpq's environment for one tool run. The password goes into a password file of its own (a 0700
    folder under $TMPDIR, mode 0600, removed afterwards) named by PGPASSFILE: never an argument, never an
    environment variable (docs/adr/0003-*)."""
    folder = Path(tempfile.mkdtemp(prefix="pgbackup-"))
    try:
        passfile = folder / "pgpass"
        handle = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "w") as out:
            out.write(f"*:*:*:{_escape(settings.db_user)}:{_escape(settings.db_password)}\n")
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AWS_"))}
        yield {
            **keep,
            "PGHOST": settings.db_host,
            "PGPORT": str(settings.db_port),
            "PGUSER": settings.db_user,
            "PGPASSFILE": str(passfile),
            "PGCONNECT_TIMEOUT": "10",
            "PGAPPNAME": "pgbackup",
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def psql(settings: Settings, database: str, query: str, **variables: str) -> list[list[str]]:
    """Rows of a script (unaligned, tab-separated) run by psql; names reach it as psql variables (quoted
    by psql as :'literal' or :"identifier"), never spliced into SQL here. One BackupError line on failure."""
    names = [arg for key, value in sorted(variables.items()) for arg in ("-v", f"{key}={value}")]
    with _libpq(settings) as env:
        result = _psql_run(names, database, query, env)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise BackupError(f"psql on database {database} failed: {last[:300]}")
    return [line.split("\t") for line in result.stdout.splitlines() if line]


def _psql_run(names: list[str], database: str, query: str, env: dict[str, str]) -> Any:
    return subprocess.run(
        [
            "psql",
            "-X",
            "-q",
            "-A",
            "-t",
            "-F",
            "\t",
            "-v",
            "ON_ERROR_STOP=1",
            *names,
            "-d",
            database,
            "-f",
            "-",
        ],
        input=query,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def database_exists(settings: Settings, database: str) -> bool:
    return bool(psql(settings, "postgres", "SELECT 1 FROM pg_database WHERE datname = :'db'", db=database))


# One counting query per table outside the system schemas, built and run by the server (\gexec).
COUNT_ROWS = """
SELECT format('SELECT %L, count(*) FROM %I.%I', n.nspname || '.' || c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY n.nspname, c.relname
\\gexec
"""


def table_rows(settings: Settings, database: str) -> dict[str, int]:
    """Exact row count of every table outside the system schemas (`schema.table`: rows)."""
    return {name: int(count) for name, count in psql(settings, database, COUNT_ROWS)}


def _tool_version(tool: str) -> str:
    result = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False, timeout=30)
    return result.stdout.strip().rsplit(" ", 1)[-1] if result.returncode == 0 else "unknown"


# --- S3 ------------------------------------------------------------------------------------------------


def s3_client(settings: Settings) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.endpoint,
        aws_access_key_id=settings.access_key,
        aws_secret_access_key=settings.secret_key,
        region_name=settings.region,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=10,
            read_timeout=120,
        ),
    )


def _s3_error(action: str, exc: Exception) -> BackupError:
    from botocore.exceptions import ClientError

    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
    hint = {
        "AccessDenied": "the backup key may not do this; check its policy (platformctl storage ensure)",
        "InvalidAccessKeyId": "the S3 store does not know the backup key; run `platformctl storage ensure`",
        "SignatureDoesNotMatch": "the backup key's secret is wrong; sync the Secret from Vault",
        "NoSuchBucket": "the bucket is missing; run `platformctl storage ensure`",
    }.get(code, "check PGBACKUP_S3_ENDPOINT and the store")
    return BackupError(f"S3 {action} failed ({code or type(exc).__name__}); {hint}")


@contextlib.contextmanager
def _s3(action: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise _s3_error(action, exc) from None


@dataclass(frozen=True)
class Backup:
    name: str
    started: str
    finished: str
    seconds: float
    size: int
    dump_size: int
    sha256: str
    key_id: str
    database: str
    label: str
    server_version: str
    pg_dump_version: str
    format: str = FORMAT

    @property
    def finished_at(self) -> datetime:
        return datetime.fromisoformat(self.finished)


@dataclass(frozen=True)
class Listing:
    good: list[Backup]  # newest first
    incomplete: dict[str, datetime]  # name -> newest LastModified of its objects


def listing(settings: Settings, s3: Any) -> Listing:
    objects: dict[str, dict[str, datetime]] = {}
    with _s3(f"list s3://{settings.bucket}/{settings.folder}"):
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=settings.folder)
        for page in pages:
            for item in page.get("Contents", []):
                rest = item["Key"][len(settings.folder) :]
                for suffix in (DATA_SUFFIX, MANIFEST_SUFFIX):
                    if rest.endswith(suffix) and NAME.match(rest[: -len(suffix)]):
                        objects.setdefault(rest[: -len(suffix)], {})[suffix] = item["LastModified"]
    good, incomplete = [], {}
    for name, parts in objects.items():
        if set(parts) == {DATA_SUFFIX, MANIFEST_SUFFIX}:
            with _s3(f"read the manifest of {name}"):
                body = s3.get_object(Bucket=settings.bucket, Key=f"{settings.folder}{name}{MANIFEST_SUFFIX}")
                raw = json.loads(body["Body"].read())
            good.append(Backup(**{k: raw[k] for k in Backup.__dataclass_fields__ if k in raw}))
        else:
            incomplete[name] = max(parts.values())
    good.sort(key=lambda b: b.name, reverse=True)
    return Listing(good, incomplete)


def _delete(settings: Settings, s3: Any, name: str) -> None:
    for suffix in (MANIFEST_SUFFIX, DATA_SUFFIX):  # the manifest first: a half-deleted backup is incomplete
        with _s3(f"delete {name}{suffix}"):
            s3.delete_object(Bucket=settings.bucket, Key=f"{settings.folder}{name}{suffix}")


def prune(settings: Settings, s3: Any, now: datetime) -> list[str]:
    """Apply the retention; returns the names deleted."""
    found = listing(settings, s3)
    cutoff = now - timedelta(days=settings.max_age_days)
    doomed = [b.name for b in found.good[settings.keep_last :] if b.finished_at < cutoff]
    doomed += [name for name, seen in found.incomplete.items() if seen < now - INCOMPLETE_GRACE]
    for name in doomed:
        _delete(settings, s3, name)
    return sorted(doomed)


# --- backup --------------------------------------------------------------------------------------------


def _upload(s3: Any, settings: Settings, key: str, body: IO[bytes]) -> None:
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=8 * CHUNK, multipart_chunksize=8 * CHUNK, max_concurrency=2, use_threads=True
    )
    with _s3(f"upload {key}"):
        s3.upload_fileobj(body, settings.bucket, key, Config=config)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(handle: IO[bytes]) -> str:
    handle.seek(0)
    lines = handle.read().decode(errors="replace").strip().splitlines()
    return (lines or ["no output"])[-1][:300]


def backup(
    settings: Settings,
    label: str = "scheduled",
    prune_after: bool = True,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    say: Say = _stderr,
) -> tuple[Backup, list[str]]:
    """pg_dump (custom format) -> encrypt -> S3, then the manifest, then the retention. Returns the new
    backup and the names pruned. A failure leaves no manifest, so nothing half-done is ever listed."""
    if not LABEL.match(label):
        raise BackupError(f"label {label!r}: lower-case letters, digits and '-', starting with a letter")
    s3 = s3_client(settings)
    started = now()
    name = f"{started.strftime(STAMP)}-{label}"
    data_key = f"{settings.folder}{name}{DATA_SUFFIX}"
    with _s3(f"check {data_key}"):
        existing = s3.list_objects_v2(Bucket=settings.bucket, Prefix=f"{settings.folder}{name}.", MaxKeys=1)
    if existing.get("KeyCount"):
        raise BackupError(f"a backup named {name} exists already; run it again in a second")
    server = psql(settings, settings.database, "SHOW server_version")[0][0]
    say(f"dumping database {settings.database} (PostgreSQL {server}) into s3://{settings.bucket}/{data_key}")
    clock = time.monotonic()
    with tempfile.TemporaryFile() as errors, _libpq(settings) as env:
        dump = subprocess.Popen(
            ["pg_dump", "--format=custom", "--no-password", "--dbname", settings.database],
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
        )
        assert dump.stdout is not None
        plain = _Stream(iter(lambda: dump.stdout.read(CHUNK) if dump.stdout else b"", b""))
        sealed = _Stream(encrypt(plain.read, settings.key))
        try:
            _upload(s3, settings, data_key, io.BufferedReader(sealed, buffer_size=CHUNK))
        except BaseException:
            _stop(dump)
            raise
        finally:
            dump.stdout.close()
        if dump.wait() != 0:
            with contextlib.suppress(BackupError):
                _delete(settings, s3, name)
            raise BackupError(f"pg_dump of {settings.database} failed: {_tail(errors)}")
    finished = now()
    made = Backup(
        name=name,
        started=started.isoformat(),
        finished=finished.isoformat(),
        seconds=round(time.monotonic() - clock, 3),
        size=sealed.size,
        dump_size=plain.size,
        sha256=sealed.digest.hexdigest(),
        key_id=key_id(settings.key),
        database=settings.database,
        label=label,
        server_version=server,
        pg_dump_version=_tool_version("pg_dump"),
    )
    with _s3(f"write the manifest of {name}"):
        s3.put_object(
            Bucket=settings.bucket,
            Key=f"{settings.folder}{name}{MANIFEST_SUFFIX}",
            Body=json.dumps(asdict(made), sort_keys=True).encode(),
            ContentType="application/json",
        )
    say(f"backup {name}: {made.size} bytes in {made.seconds:.1f}s (key id {made.key_id})")
    pruned = prune(settings, s3, finished) if prune_after else []
    for gone in pruned:
        say(f"retention: deleted {gone}")
    return made, pruned


# --- restore -------------------------------------------------------------------------------------------


def choose(settings: Settings, s3: Any, name: str | None) -> Backup:
    found = listing(settings, s3).good
    if not found:
        raise BackupError(
            f"no complete backup of {settings.database} in s3://{settings.bucket}/{settings.folder}"
        )
    if name is None:
        return found[0]
    if not NAME.match(name):
        raise BackupError(f"backup name {name!r} is not of the form 20250101T021700Z-label (see `list`)")
    for item in found:
        if item.name == name:
            return item
    raise BackupError(f"no complete backup named {name}; `platformctl backup list` shows them")


@dataclass(frozen=True)
class Restored:
    backup: str
    database: str
    into: str
    seconds: float
    rows: dict[str, int]
    replaced: dict[str, int]  # what the target held before (row counts), empty for a fresh database
    safety_backup: str | None
    dry_run: bool = False


def _pg_restore(settings: Settings, s3: Any, chosen: Backup, database: str, clean: bool) -> None:
    args = ["pg_restore", "--no-password", "--single-transaction", "--exit-on-error", "--dbname", database]
    if clean:
        args[1:1] = ["--clean", "--if-exists"]
    key = f"{settings.folder}{chosen.name}{DATA_SUFFIX}"
    with _s3(f"download {key}"):
        body = s3.get_object(Bucket=settings.bucket, Key=key)["Body"]
    digest = hashlib.sha256()

    def read(size: int) -> bytes:
        with _s3(f"download {key}"):
            block: bytes = body.read(size)
        digest.update(block)
        return block

    with tempfile.TemporaryFile() as errors, _libpq(settings) as env:
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=errors, env=env)
        assert proc.stdin is not None
        try:
            for block in decrypt(read, settings.key):
                proc.stdin.write(block)
            if digest.hexdigest() != chosen.sha256:
                raise BackupError(f"backup {chosen.name} does not match its manifest's sha256")
            proc.stdin.close()
        except BrokenPipeError:
            pass  # pg_restore stopped early: its own message below says why
        except BaseException:
            _stop(proc)  # the transaction dies with the connection: nothing of it stays
            raise
        if proc.wait() != 0:
            raise BackupError(f"pg_restore into {database} failed, nothing changed: {_tail(errors)}")


def restore(
    settings: Settings,
    name: str | None = None,
    into: str = "running",
    target_db: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    say: Say = _stderr,
) -> Restored:
    """Restore a backup (the newest by default) into the running database or a fresh one.

    running: refused (exit 3) when the database holds any table, unless `force`; with `force` a safety
    backup (label pre-restore) is taken first, then every object of the dump is dropped and recreated in
    one transaction. fresh: a new database (`target_db`, default <db>_restore_<stamp>) owned by the
    database's owner; refused when it exists."""
    if into not in ("running", "fresh"):
        raise BackupError(f"--into {into!r}: choose running or fresh")
    if target_db and into != "fresh":
        raise BackupError("--target-db only goes with --into fresh")
    s3 = s3_client(settings)
    chosen = choose(settings, s3, name)
    if into == "fresh":
        database = target_db or f"{settings.database}_restore_{now().strftime('%Y%m%d%H%M%S')}"
        if not IDENTIFIER.match(database):
            raise BackupError(f"--target-db {database!r} is not a plain lower-case PostgreSQL name")
        if database_exists(settings, database):
            raise Refused(f"database {database} exists; choose another --target-db (a fresh one is created)")
        replaced: dict[str, int] = {}
    else:
        database = settings.database
        replaced = table_rows(settings, database)
        if replaced and not force:
            raise Refused(
                f"database {database} holds {len(replaced)} tables ({sum(replaced.values())} rows); "
                "restoring replaces them: add --force (a safety backup is taken first) or restore "
                "--into fresh"
            )
    plan = f"restore {chosen.name} ({chosen.size} bytes, {chosen.finished}) into {into} database {database}"
    if dry_run:
        say(f"dry run: would {plan}" + (" after a safety backup" if replaced else ""))
        return Restored(chosen.name, database, into, 0.0, {}, replaced, None, dry_run=True)
    safety = None
    if replaced:
        safety = backup(settings, "pre-restore", prune_after=False, now=now, say=say)[0].name
        say(f"safety backup of the current data: {safety} (restore it to go back)")
    say(plan)
    clock = time.monotonic()
    if into == "fresh":
        psql(settings, "postgres", 'CREATE DATABASE :"db" OWNER :"owner"', db=database, owner=settings.owner)
        try:
            _pg_restore(settings, s3, chosen, database, clean=False)
        except BaseException:
            with contextlib.suppress(BackupError):
                psql(settings, "postgres", 'DROP DATABASE IF EXISTS :"db"', db=database)
            raise
    else:
        _pg_restore(settings, s3, chosen, database, clean=True)
    rows = table_rows(settings, database)
    seconds = round(time.monotonic() - clock, 3)
    say(f"restored {chosen.name} into {database} in {seconds:.1f}s: {sum(rows.values())} rows")
    return Restored(chosen.name, database, into, seconds, rows, replaced, safety)


# --- command line --------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pgbackup", description=__doc__.split("\n\n", 1)[0])
    verbs = parser.add_subparsers(dest="command", required=True)
    run = verbs.add_parser("backup", help="dump, encrypt, upload, then apply the retention")
    run.add_argument("--label", default="scheduled")
    run.add_argument("--no-prune", action="store_true")
    verbs.add_parser("list", help="the complete backups, newest first, and the incomplete objects")
    rest = verbs.add_parser("restore", help="restore a backup (the newest by default)")
    rest.add_argument("--name")
    rest.add_argument("--into", choices=["running", "fresh"], default="running")
    rest.add_argument("--target-db")
    rest.add_argument("--force", action="store_true")
    rest.add_argument("--dry-run", action="store_true")
    return parser


def _emit(event: dict[str, Any]) -> None:
    print(json.dumps(event, sort_keys=True, default=str), flush=True)


def run(argv: list[str], environ: Mapping[str, str]) -> dict[str, Any]:
    """One command; returns its result event."""
    args = _parser().parse_args(argv)
    settings = Settings.from_env(environ)
    if args.command == "backup":
        made, pruned = backup(settings, args.label, prune_after=not args.no_prune)
        return {"event": "result", "command": "backup", "backup": asdict(made), "pruned": pruned}
    if args.command == "list":
        found = listing(settings, s3_client(settings))
        return {
            "event": "result",
            "command": "list",
            "database": settings.database,
            "location": f"s3://{settings.bucket}/{settings.folder}",
            "retention": {"keep_last": settings.keep_last, "max_age_days": settings.max_age_days},
            "key_id": key_id(settings.key),
            "backups": [asdict(b) for b in found.good],
            "incomplete": {k: v.isoformat() for k, v in sorted(found.incomplete.items())},
        }
    done = restore(settings, args.name, args.into, args.target_db, args.force, args.dry_run)
    return {"event": "result", "command": "restore", "restore": asdict(done)}


def main(argv: list[str] | None = None) -> int:
    try:
        _emit(run(sys.argv[1:] if argv is None else argv, os.environ))
    except BackupError as exc:
        _stderr(f"error: {exc}")
        _emit({"event": "error", "message": str(exc), "refused": isinstance(exc, Refused)})
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())

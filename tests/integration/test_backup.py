"""The backup runner (services/pgbackup/pgbackup.py) against the machine's real PostgreSQL and a real
SeaweedFS: dump -> encrypt -> upload -> list -> retention by count and age -> download -> decrypt ->
restore (fresh database, and over the running one only with --force) with equal rows; the backup key's
least-privilege policy through SeaweedFS's IAM API; no secret on a command line or in the output.

The database is the users service's real schema (its migrations), owned by a role of its own like the
chart's bootstrap role; the users' bcrypt hashes must still check after the restore.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bcrypt
import psycopg
import pytest
from botocore.exceptions import ClientError
from platformctl.adapters import s3admin, storage
from psycopg import sql

from services.pgbackup import pgbackup
from tests.fixtures.servers import wait_until

RUNNER = Path(pgbackup.__file__)
PASSWORDS = {"ada@example.com": "correct horse", "grace@example.com": "battery staple"}


@dataclass(frozen=True)
class Db:
    name: str
    owner: str
    dsn: str  # as the superuser, on this database


def _admin(dsn: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True)


@pytest.fixture
def users_db(postgres_dsn: str) -> Iterator[Db]:
    """The users schema (real migrations, run as the owner role) with two users; dropped afterwards
    together with every database the test restored into (`<name>_*`)."""
    from users_service.migrate import migrate

    suffix = secrets.token_hex(4)
    name, owner = f"pgb_{suffix}", f"pgb_owner_{suffix}"
    with _admin(postgres_dsn) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(owner)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner))
        )
    dsn = psycopg.conninfo.make_conninfo(postgres_dsn, dbname=name)
    try:
        migrate(psycopg.conninfo.make_conninfo(postgres_dsn, dbname=name, user=owner))
        with _admin(psycopg.conninfo.make_conninfo(postgres_dsn, dbname=name, user=owner)) as conn:
            for email, password in PASSWORDS.items():
                hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
                conn.execute(
                    "INSERT INTO users (name, surname, email, password_hash) VALUES (%s, %s, %s, %s)",
                    (email.split("@")[0], "Test", email, hashed),
                )
        yield Db(name, owner, dsn)
    finally:
        with _admin(postgres_dsn) as conn:
            found = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{name}%",))
            for (database,) in found.fetchall():
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(owner)))


def _secret_files(folder: Path, values: dict[str, str]) -> dict[str, str]:
    folder.mkdir(mode=0o700)
    out = {}
    for name, value in values.items():
        path = folder / name
        path.write_text(value)
        path.chmod(0o400)
        out[name] = str(path)
    return out


def _environ(tmp_path: Path, db: Db, endpoint: str, bucket: str, access: str, secret: str) -> dict[str, str]:
    info = psycopg.conninfo.conninfo_to_dict(db.dsn)
    files = _secret_files(
        tmp_path / "secrets",
        {
            # The machine's PostgreSQL trusts loopback: the password is a sentinel that must never show.
            "postgres-password": "pg-sentinel-" + secrets.token_hex(8),
            "access-key": access,
            "secret-key": secret,
            "encryption-key": secrets.token_urlsafe(32),
        },
    )
    return {
        "PGBACKUP_DB_HOST": str(info.get("host", "127.0.0.1")),
        "PGBACKUP_DB_PORT": str(info.get("port", 5432)),
        "PGBACKUP_DB_USER": str(info.get("user", "postgres")),
        "PGBACKUP_DB_PASSWORD_FILE": files["postgres-password"],
        "PGBACKUP_DB_NAME": db.name,
        "PGBACKUP_DB_OWNER": db.owner,
        "PGBACKUP_S3_ENDPOINT": endpoint,
        "PGBACKUP_S3_BUCKET": bucket,
        "PGBACKUP_S3_PREFIX": "postgresql/",
        "PGBACKUP_S3_ACCESS_KEY_FILE": files["access-key"],
        "PGBACKUP_S3_SECRET_KEY_FILE": files["secret-key"],
        "PGBACKUP_KEY_FILE": files["encryption-key"],
        "PGBACKUP_KEEP_LAST": "2",
        "PGBACKUP_MAX_AGE_DAYS": "7",
    }


@pytest.fixture
def environ(tmp_path, users_db, s3_server) -> dict[str, str]:
    bucket = f"backups-{secrets.token_hex(3)}"
    admin = storage.client(s3_server.endpoint, s3_server.access_key, s3_server.secret_key)
    storage.ensure(admin, {bucket: ("backups", "postgresql/")})  # versioned, as `storage ensure` makes it
    return _environ(
        tmp_path, users_db, s3_server.endpoint, bucket, s3_server.access_key, s3_server.secret_key
    )


@pytest.fixture
def settings(environ) -> pgbackup.Settings:
    return pgbackup.Settings.from_env(environ)


def _rows(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT id, email, password_hash, role FROM users ORDER BY id").fetchall()


def _on(db: Db, database: str) -> str:
    return psycopg.conninfo.make_conninfo(db.dsn, dbname=database)


def _quiet(_line: str) -> None:
    pass


def test_round_trip_into_a_fresh_database(settings, users_db):
    before = _rows(users_db.dsn)
    made, pruned = pgbackup.backup(settings, "manual", say=_quiet)
    assert pruned == [] and made.label == "manual" and made.database == users_db.name
    assert made.size > made.dump_size > 0 and made.key_id == pgbackup.key_id(settings.key)

    s3 = pgbackup.s3_client(settings)
    stored = s3.get_object(Bucket=settings.bucket, Key=f"postgresql/{users_db.name}/{made.name}.pgdump.enc")
    body = stored["Body"].read()
    assert body[:4] == b"PGBK" and b"ada@example.com" not in body and b"PGDMP" not in body  # encrypted
    listed = pgbackup.listing(settings, s3)
    assert [b.name for b in listed.good] == [made.name] and not listed.incomplete

    target = f"{users_db.name}_fresh"
    done = pgbackup.restore(settings, into="fresh", target_db=target, say=_quiet)
    assert done.backup == made.name and done.database == target and done.safety_backup is None
    after = _rows(_on(users_db, target))
    assert after == before and done.rows["public.users"] == len(PASSWORDS)
    for _, email, hashed, _role in after:  # the same users log in with the same passwords
        assert bcrypt.checkpw(PASSWORDS[email].encode(), hashed.encode())
    with psycopg.connect(_on(users_db, target)) as conn:
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'users'").fetchone()
        database_owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    assert owner == (users_db.owner,) and database_owner == (users_db.owner,)
    with pytest.raises(pgbackup.Refused, match=f"database {target} exists"):  # fresh never overwrites
        pgbackup.restore(settings, into="fresh", target_db=target, say=_quiet)


def test_restore_over_data_needs_force_and_keeps_a_safety_backup(settings, users_db):
    original = _rows(users_db.dsn)
    made, _ = pgbackup.backup(settings, say=_quiet)
    with psycopg.connect(users_db.dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM users WHERE email = 'ada@example.com'")
    damaged = _rows(users_db.dsn)

    with pytest.raises(pgbackup.Refused, match=r"holds \d+ tables .*add --force"):
        pgbackup.restore(settings, say=_quiet)
    planned = pgbackup.restore(settings, force=True, dry_run=True, say=_quiet)
    assert planned.dry_run and planned.backup == made.name and planned.replaced["public.users"] == 1
    assert _rows(users_db.dsn) == damaged  # refused and dry run: nothing changed
    assert [b.name for b in pgbackup.listing(settings, pgbackup.s3_client(settings)).good] == [made.name]

    done = pgbackup.restore(settings, name=made.name, force=True, say=_quiet)
    assert _rows(users_db.dsn) == original and done.replaced["public.users"] == 1
    assert done.safety_backup and done.safety_backup.endswith("-pre-restore")
    # The safety backup holds the state the restore replaced: restoring it goes back.
    back = pgbackup.restore(
        settings, name=done.safety_backup, into="fresh", target_db=f"{users_db.name}_b", say=_quiet
    )
    assert _rows(_on(users_db, back.database)) == damaged


def test_empty_running_database_needs_no_force(settings, users_db, postgres_dsn):
    """After a lost volume the bootstrap recreates an empty database: a restore needs no --force."""
    pgbackup.backup(settings, say=_quiet)
    empty = replace(settings, database=f"{users_db.name}_empty")
    with _admin(postgres_dsn) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(empty.database), sql.Identifier(users_db.owner)
            )
        )
    source = pgbackup.choose(settings, pgbackup.s3_client(settings), None)
    s3 = pgbackup.s3_client(settings)
    s3.copy_object(  # the same backup under the empty database's folder
        Bucket=settings.bucket,
        Key=f"{empty.folder}{source.name}.pgdump.enc",
        CopySource={"Bucket": settings.bucket, "Key": f"{settings.folder}{source.name}.pgdump.enc"},
    )
    s3.copy_object(
        Bucket=settings.bucket,
        Key=f"{empty.folder}{source.name}.json",
        CopySource={"Bucket": settings.bucket, "Key": f"{settings.folder}{source.name}.json"},
    )
    done = pgbackup.restore(empty, say=_quiet)
    assert done.replaced == {} and done.safety_backup is None
    assert _rows(_on(users_db, empty.database)) == _rows(users_db.dsn)


def test_retention_prunes_by_age_beyond_the_newest_count(settings):
    """keep last 2, max age 7 days: the newest two always stay, others go once older than 7 days."""
    now = datetime.now(UTC).replace(microsecond=0)
    names = {}
    for days in (40, 30, 20, 10, 3):
        at = now - timedelta(days=days)
        names[days] = pgbackup.backup(settings, prune_after=False, now=lambda at=at: at, say=_quiet)[0].name
    s3 = pgbackup.s3_client(settings)
    assert pgbackup.prune(settings, s3, now - timedelta(days=25)) == [names[40]]  # 30 and 20: the newest 2
    assert pgbackup.prune(settings, s3, now) == sorted([names[30], names[20]])  # 10: young enough
    # The next backup prunes by itself: 10 days old and now third newest.
    made, pruned = pgbackup.backup(settings, now=lambda: now, say=_quiet)
    assert pruned == [names[10]]
    assert [b.name for b in pgbackup.listing(settings, s3).good] == [made.name, names[3]]
    # An object without its manifest (a dump that died) is incomplete: never listed, gone after a day.
    s3.put_object(
        Bucket=settings.bucket, Key=f"{settings.folder}20200101T000000Z-scheduled.pgdump.enc", Body=b"x"
    )
    assert "20200101T000000Z-scheduled" in pgbackup.listing(settings, s3).incomplete
    assert pgbackup.prune(settings, s3, datetime.now(UTC)) == []
    assert pgbackup.prune(settings, s3, datetime.now(UTC) + timedelta(days=2)) == [
        "20200101T000000Z-scheduled"
    ]


def test_a_failed_dump_leaves_nothing_listed(settings):
    broken = replace(settings, database="pgb_does_not_exist")
    with pytest.raises(pgbackup.BackupError, match="psql on database pgb_does_not_exist failed"):
        pgbackup.backup(broken, say=_quiet)
    s3 = pgbackup.s3_client(settings)
    found = s3.list_objects_v2(Bucket=settings.bucket, Prefix=broken.folder)
    assert found.get("KeyCount", 0) == 0


@pytest.mark.parametrize("size", [0, 1, 4096, 4096 * 3, 4096 * 3 + 17])
def test_encryption_round_trip_and_tamper_evidence(size):
    key, other = secrets.token_bytes(32), secrets.token_bytes(32)
    plain = secrets.token_bytes(size)
    sealed = b"".join(pgbackup.encrypt(_reader(plain), key, chunk=4096))
    assert b"".join(pgbackup.decrypt(_reader(sealed), key)) == plain
    frames = max(1, -(-size // 4096))
    assert len(sealed) == pgbackup.HEADER.size + frames * (4 + 16) + size
    with pytest.raises(pgbackup.BackupError, match=f"key id {pgbackup.key_id(key)}, the mounted key is"):
        b"".join(pgbackup.decrypt(_reader(sealed), other))
    flipped = bytearray(sealed)
    flipped[-1] ^= 1
    with pytest.raises(pgbackup.BackupError, match="fails authentication"):
        b"".join(pgbackup.decrypt(_reader(bytes(flipped)), key))
    header = bytearray(sealed)
    header[30] ^= 1  # inside the salt: another data key, and the header is authenticated data
    with pytest.raises(pgbackup.BackupError, match="fails authentication"):
        b"".join(pgbackup.decrypt(_reader(bytes(header)), key))
    if frames > 1:  # cut at a chunk boundary: the last chunk left was not sealed as the final one
        cut = pgbackup.HEADER.size + (frames - 1) * (4 + 16 + 4096)
        with pytest.raises(pgbackup.BackupError, match="fails authentication"):
            b"".join(pgbackup.decrypt(_reader(sealed[:cut]), key))
    with pytest.raises(pgbackup.BackupError, match="truncated"):
        b"".join(pgbackup.decrypt(_reader(sealed[:-3]), key))
    with pytest.raises(pgbackup.BackupError, match="not a pgbackup/1 object"):
        b"".join(pgbackup.decrypt(_reader(b"PGDMP" + sealed), key))


def _reader(data: bytes):
    view = memoryview(data)
    position = 0

    def read(size: int) -> bytes:
        nonlocal position
        block = bytes(view[position : position + min(size, 1000)])  # short reads, like a pipe
        position += len(block)
        return block

    return read


def test_settings_refuse_a_short_key_and_missing_files(environ, tmp_path):
    short = tmp_path / "short-key"
    short.write_text("too-short")
    with pytest.raises(pgbackup.BackupError, match="has 9 characters; it needs at least 32"):
        pgbackup.Settings.from_env({**environ, "PGBACKUP_KEY_FILE": str(short)})
    with pytest.raises(pgbackup.BackupError, match="PGBACKUP_S3_SECRET_KEY_FILE: cannot read"):
        pgbackup.Settings.from_env({**environ, "PGBACKUP_S3_SECRET_KEY_FILE": str(tmp_path / "absent")})
    with pytest.raises(pgbackup.BackupError, match="PGBACKUP_KEEP_LAST must be at least 1"):
        pgbackup.Settings.from_env({**environ, "PGBACKUP_KEEP_LAST": "0"})


def test_no_secret_on_a_command_line_or_in_the_output(environ, settings, monkeypatch, capfd):
    """Every child process (pg_dump, pg_restore, psql) gets its arguments without a secret; the password
    reaches libpq in the environment only; nothing printed holds a secret."""
    started: list[tuple[list[str], dict[str, str]]] = []
    real_popen = subprocess.Popen

    class Recording(real_popen):  # type: ignore[misc, valid-type]
        def __init__(self, args, *rest, **kwargs):
            started.append((list(args), dict(kwargs.get("env") or {})))
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(pgbackup.subprocess, "Popen", Recording)
    monkeypatch.setattr(sys, "argv", ["pgbackup"])
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    assert pgbackup.main(["backup", "--label", "manual"]) == 0
    assert pgbackup.main(["list"]) == 0
    assert pgbackup.main(["restore", "--into", "fresh", "--target-db", f"{settings.database}_x"]) == 0
    assert pgbackup.main(["restore"]) == pgbackup.REFUSED
    out, err = capfd.readouterr()
    tools = {Path(argv[0]).name for argv, _ in started}
    assert {"pg_dump", "pg_restore", "psql"} <= tools
    for secret in settings.secrets():
        assert not [argv for argv, _ in started if any(secret in arg for arg in argv)]
        assert secret not in out and secret not in err
    for argv, env in started:
        assert "PGPASSWORD" not in env and not any(secret in env.values() for secret in settings.secrets())
        if Path(argv[0]).name in {"pg_dump", "pg_restore", "psql"} and "--version" not in argv:
            assert not Path(env["PGPASSFILE"]).exists()  # a private password file, removed after the run
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["event"] for e in events] == ["result", "result", "result", "error"]
    assert events[-1]["refused"] is True and "add --force" in events[-1]["message"]
    assert events[1]["backups"][0]["label"] == "manual" and events[1]["retention"]["keep_last"] == 2


def test_password_file_is_private_and_escaped(settings):
    odd = replace(settings, db_password="pa:ss\\word")
    with pgbackup._libpq(odd) as env:
        passfile = Path(env["PGPASSFILE"])
        assert passfile.stat().st_mode & 0o777 == 0o600 and passfile.parent.stat().st_mode & 0o777 == 0o700
        assert passfile.read_text() == f"*:*:*:{settings.db_user}:pa\\:ss\\\\word\n"
    assert not passfile.parent.exists()


def test_runner_runs_as_a_script(environ):
    """As the image runs it: `python pgbackup.py list`, settings from the environment only."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PGBACKUP_")}, **environ}
    result = subprocess.run(
        [sys.executable, str(RUNNER), "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["backups"] == []
    env["PGBACKUP_S3_SECRET_KEY_FILE"] = env["PGBACKUP_KEY_FILE"]  # a wrong secret
    result = subprocess.run(
        [sys.executable, str(RUNNER), "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "SignatureDoesNotMatch" in result.stderr or "InvalidAccessKeyId" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one line, no traceback


# --- least privilege: the backup consumer's own key, through SeaweedFS's IAM API ---------------------------


def _denied(call) -> bool:
    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"] in {"AccessDenied", "InvalidAccessKeyId"}
    return False


def test_backup_key_is_limited_to_its_prefix(iam_s3, users_db, tmp_path, monkeypatch):
    suffix = secrets.token_hex(3)
    user, bucket, other = f"backups-{suffix}", f"backups-{suffix}", f"notifications-{suffix}"
    monkeypatch.setattr(storage, "PRUNING_CONSUMERS", frozenset({user}))
    root = storage.client(iam_s3.endpoint, iam_s3.access_key, iam_s3.secret_key)
    storage.ensure(root, {bucket: (user, "postgresql/"), other: ("notifications", "users/")})
    root.put_object(Bucket=other, Key="users/1/event.json", Body=b"{}")
    admin = s3admin.IamAdmin(iam_s3.endpoint, iam_s3.access_key, iam_s3.secret_key)
    admin.ensure_user(user, bucket, "postgresql/")
    key_id, secret = admin.create_key(user)
    wait_until(lambda: s3admin.can_use(iam_s3.endpoint, key_id, secret, bucket), 30, "the backup key")
    settings = pgbackup.Settings.from_env(
        _environ(tmp_path, users_db, iam_s3.endpoint, bucket, key_id, secret)
    )

    made, _ = pgbackup.backup(settings, say=_quiet)  # put, list, get (manifest) in its own prefix
    old = datetime.now(UTC) - timedelta(days=30)
    pgbackup.backup(settings, prune_after=False, now=lambda: old, say=_quiet)
    pgbackup.backup(settings, prune_after=False, now=lambda: old - timedelta(days=1), say=_quiet)
    assert len(pgbackup.prune(settings, pgbackup.s3_client(settings), datetime.now(UTC))) == 1  # delete

    s3 = storage.client(iam_s3.endpoint, key_id, secret)
    assert _denied(lambda: s3.get_object(Bucket=other, Key="users/1/event.json"))  # not the notifications'
    assert _denied(lambda: s3.list_objects_v2(Bucket=other))
    assert _denied(lambda: s3.put_object(Bucket=other, Key="users/2/x.json", Body=b"{}"))
    assert _denied(lambda: s3.put_object(Bucket=bucket, Key="elsewhere/x", Body=b"x"))  # its prefix only
    assert _denied(lambda: s3.delete_bucket(Bucket=bucket))
    assert _denied(lambda: s3.create_bucket(Bucket=f"{bucket}-mine"))
    assert made.name in {b.name for b in pgbackup.listing(settings, s3).good}


def test_only_the_backup_consumer_may_delete():
    assert "s3:DeleteObject" in storage.object_actions("backups")
    assert "s3:DeleteObject" not in storage.object_actions("notifications")
    assert storage.BUCKETS["backups"] == ("backups", "postgresql/")
    doc = json.loads(storage.policy("backups", "backups", "postgresql/"))
    assert {"arn:aws:s3:::backups/postgresql/*"} == {
        r for s in doc["Statement"] if "s3:DeleteObject" in s["Action"] for r in s["Resource"]
    }
    user_doc = s3admin.user_policy("notifications", "users/", "notifications")
    assert all("s3:DeleteObject" not in s["Action"] for s in user_doc["Statement"])

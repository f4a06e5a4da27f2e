"""The admin account comes from the mounted `users-admin` Secret through `users-migrate` (no default
password); its login through a real auth-ms yields a token with role admin."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys

import httpx
import jwt
import psycopg
import pytest

from services.conftest import ISSUER, bearer, new_signing_key, write_keyset
from tests.fixtures.servers import free_port

VERIFY = "/users-ms/internal/credentials/verify"


def run_migrate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = shutil.which("users-migrate", path=os.path.dirname(sys.executable)) or "users-migrate"
    return subprocess.run([command], env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


@pytest.fixture
def database(postgres_dsn, users_database):
    name = f"users_admin_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield {**users_database.env(), "USERS_DB_NAME": name, "USERS_BCRYPT_ROUNDS": "4"}
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def secret_files(tmp_path):
    """The `users-admin` Secret as mounted: one file per key."""
    folder = tmp_path / "users-admin"
    folder.mkdir()
    email, password = f"Admin.{secrets.token_hex(3)}@Example.org", secrets.token_urlsafe(32)
    (folder / "email").write_text(email + "\n")
    (folder / "password").write_text(password + "\n")
    env = {
        "USERS_ADMIN_EMAIL_FILE": str(folder / "email"),
        "USERS_ADMIN_PASSWORD_FILE": str(folder / "password"),
    }
    return {"env": env, "email": email.lower(), "password": password, "folder": folder}


def seeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    line = json.loads(result.stdout.splitlines()[-1])
    assert line["msg"] == "admin account seeded", line
    return str(line["outcome"])


def test_no_admin_without_the_secret(database) -> None:
    result = run_migrate(database)
    assert result.returncode == 0 and "admin account" not in result.stdout


def test_admin_is_created_then_left_alone_then_updated(database, secret_files) -> None:
    env = {**database, **secret_files["env"]}
    assert seeded(run_migrate(env)) == "created"
    assert seeded(run_migrate(env)) == "unchanged"
    new_password = secrets.token_urlsafe(32)
    (secret_files["folder"] / "password").write_text(new_password)
    assert seeded(run_migrate(env)) == "updated"
    output = run_migrate(env).stdout
    assert new_password not in output and secret_files["password"] not in output


def test_an_account_registered_under_the_admin_email_is_taken_over(
    database, secret_files, start_service
) -> None:
    assert run_migrate(database).returncode == 0
    users = start_service("users_service", database)
    squatter = {"name": "S", "surname": "Q", "email": secret_files["email"], "password": "squatters-password"}
    assert httpx.post(f"{users.url}/users-ms/users", json=squatter).status_code == 201
    assert seeded(run_migrate({**database, **secret_files["env"]})) == "updated"
    old = httpx.post(
        f"{users.internal_url}{VERIFY}", json={"email": squatter["email"], "password": "squatters-password"}
    )
    assert old.status_code == 401
    new = {"email": secret_files["email"], "password": secret_files["password"]}
    assert httpx.post(f"{users.internal_url}{VERIFY}", json=new).json()["role"] == "admin"


def test_half_configured_secret_is_one_clear_line(database, secret_files) -> None:
    env = {**database, "USERS_ADMIN_EMAIL_FILE": secret_files["env"]["USERS_ADMIN_EMAIL_FILE"]}
    result = run_migrate(env)
    assert result.returncode == 1
    line = json.loads(result.stdout.splitlines()[-1])
    assert line["msg"] == "admin account not seeded: USERS_ADMIN_PASSWORD_FILE: not set"


def test_short_password_is_refused_without_echoing_it(database, secret_files) -> None:
    (secret_files["folder"] / "password").write_text("short-pw")
    result = run_migrate({**database, **secret_files["env"]})
    assert result.returncode == 1 and "short-pw" not in result.stdout + result.stderr
    assert "USERS_ADMIN_PASSWORD_FILE: needs 16 characters" in result.stdout


def test_admin_logs_in_through_auth_and_lists_users(database, secret_files, start_service, tmp_path) -> None:
    assert seeded(run_migrate({**database, **secret_files["env"]})) == "created"
    keyset = write_keyset(tmp_path / "keyset.json", "k1", [new_signing_key("k1")])
    auth_env = {
        "AUTH_JWT_KEYSET_FILE": str(keyset),
        "AUTH_JWT_ISSUER": ISSUER,
        "AUTH_JWT_AUDIENCE": "platform-api",
    }
    # users-ms checks tokens against this auth-ms: started first on a port chosen here
    internal_port = str(free_port())
    auth = start_service("auth_service", {**auth_env, "AUTH_USERS_URL": f"http://127.0.0.1:{internal_port}"})
    users_env = {
        **database,
        "USERS_INTERNAL_PORT": internal_port,
        "USERS_JWKS_URL": f"{auth.url}/auth-ms/.well-known/jwks.json",
        "USERS_JWT_ISSUER": ISSUER,
        "USERS_JWT_AUDIENCE": "platform-api",
    }
    users = start_service("users_service", users_env)
    credentials = {"email": secret_files["email"], "password": secret_files["password"]}
    login = httpx.post(f"{auth.url}/auth-ms/auth/login", json=credentials)
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["role"] == "admin"
    listed = httpx.get(f"{users.url}/users-ms/users", headers=bearer(token))
    assert listed.status_code == 200 and listed.json()["total"] == 1

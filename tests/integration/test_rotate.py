"""`rotate` end to end: real OpenBao, the machine's PostgreSQL, FakeKubeAPI (stand-in for Kubernetes only).

The machine's PostgreSQL trusts loopback logins, so "the old password stops working" is checked the way
the server checks a SCRAM login: against the role's stored verifier in pg_authid (pgrole.scram_matches).
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from kubernetes import config
from platformctl.adapters import pgrole
from platformctl.adapters.kube import KubeSecrets
from platformctl.app import jwtkeys, rotate
from platformctl.config.secret_map import RotationSpec
from platformctl.errors import PlatformError

from tests.integration.rollers import RecordingRoller


def _setup(seeded, smap, fake_kube, postgres_dsn, role):
    smap = smap.model_copy(
        update={
            "rotations": {
                "users-db-password": RotationSpec(
                    path="postgresql", key="users-password", kind="postgres-role", role=role
                )
            }
        }
    )
    old = seeded.read("postgresql").data["users-password"]
    pgrole.set_password(postgres_dsn, role, old)
    store = KubeSecrets(config.new_client_from_config(config_file=str(fake_kube[1])))
    spec = rotate.spec_for(smap, "users-db-password")
    plan = rotate.Plan("users-db-password", spec, rotate.steps_for(spec, smap, seeded, store, postgres_dsn))
    return plan, old


def _secret_password(api) -> str:
    return base64.b64decode(api.secrets[("apps", "users-db")]["data"]["password"]).decode()


def test_postgres_rotation_end_to_end(seeded, smap, fake_kube, postgres_dsn, pg_role):
    plan, old = _setup(seeded, smap, fake_kube, postgres_dsn, pg_role)
    lines: list[str] = []
    before, after = rotate.run(plan, seeded, lines.append)
    new = seeded.read("postgresql").data["users-password"]
    assert new != old and after == before + 1
    stored = pgrole.verifier(postgres_dsn, pg_role)
    assert pgrole.scram_matches(stored, new) and not pgrole.scram_matches(stored, old)
    assert seeded.read("postgresql", version=before).data["users-password"] == old  # KV keeps both
    assert _secret_password(fake_kube[0]) == new
    assert not any(old in line or new in line for line in lines)


def test_rollback_when_a_later_step_fails(seeded, smap, fake_kube, postgres_dsn, pg_role):
    plan, old = _setup(seeded, smap, fake_kube, postgres_dsn, pg_role)
    fake_kube[0].fail_apply = True
    failed = r"rotation of users-db-password failed .*previous value restored"
    with pytest.raises(PlatformError, match=failed) as exc:
        rotate.run(plan, seeded, lambda _line: None)
    assert exc.value.exit_code == 6  # the Kubernetes step failed
    latest = seeded.read("postgresql")
    assert latest.data["users-password"] == old
    assert seeded.read("postgresql", version=latest.version - 1).data["users-password"] != old
    assert pgrole.scram_matches(pgrole.verifier(postgres_dsn, pg_role), old)


def test_rollback_when_the_role_is_missing(seeded, smap, fake_kube, postgres_dsn):
    missing = RotationSpec(
        path="postgresql",
        key="users-password",
        kind="postgres-role",
        role="no_such_role_" + secrets.token_hex(3),
    )
    smap2 = smap.model_copy(update={"rotations": {"x": missing}})
    store = KubeSecrets(config.new_client_from_config(config_file=str(fake_kube[1])))
    spec = rotate.spec_for(smap2, "x")
    plan = rotate.Plan("x", spec, rotate.steps_for(spec, smap2, seeded, store, postgres_dsn))
    before = seeded.read("postgresql")
    with pytest.raises(PlatformError, match=r"ALTER ROLE no_such_role_\w+ failed \(SQLSTATE 42704\)"):
        rotate.run(plan, seeded, lambda _line: None)
    assert seeded.read("postgresql").data == before.data
    assert fake_kube[0].applies == []


def test_jwt_rotation_keeps_old_tokens_valid(seeded, smap, fake_kube):
    store = KubeSecrets(config.new_client_from_config(config_file=str(fake_kube[1])))
    old_set = seeded.read("auth-jwt").data["keyset"]
    old = jwtkeys.parse(old_set)
    private = next(k for k in old["keys"] if k["kid"] == old["active_kid"])["private_key_pem"]
    token = jwt.encode({"sub": "42"}, private, algorithm="EdDSA", headers={"kid": old["active_kid"]})
    spec = rotate.spec_for(smap, "auth-jwt")
    plan = rotate.Plan("auth-jwt", spec, rotate.steps_for(spec, smap, seeded, store, None))
    rotate.run(plan, seeded, lambda _line: None)
    new_set = seeded.read("auth-jwt").data["keyset"]
    assert jwtkeys.parse(new_set)["active_kid"] != old["active_kid"]
    kid = jwt.get_unverified_header(token)["kid"]
    assert jwt.decode(token, jwtkeys.public_keys(new_set)[kid], algorithms=["EdDSA"])["sub"] == "42"
    mounted = fake_kube[0].secrets[("apps", "auth-jwt-keys")]["data"]["keyset.json"]
    assert base64.b64decode(mounted).decode() == new_set


def test_jwt_rotation_prunes_keys_whose_tokens_expired():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    first = jwtkeys.new_keyset(start)
    second = jwtkeys.rotate(first, timedelta(hours=1), start + timedelta(days=1))
    third = jwtkeys.rotate(second, timedelta(hours=1), start + timedelta(days=2))
    kids = [k["kid"] for k in jwtkeys.parse(third)["keys"]]
    assert kids == [jwtkeys.parse(second)["active_kid"], jwtkeys.parse(third)["active_kid"]]
    soon = jwtkeys.rotate(second, timedelta(hours=1), start + timedelta(days=1, minutes=10))
    assert len(jwtkeys.parse(soon)["keys"]) == 3  # tokens of the first key may still live


def test_unknown_secret_name(smap):
    with pytest.raises(PlatformError, match="unknown secret 'nope' for rotate") as exc:
        rotate.spec_for(smap, "nope")
    assert exc.value.exit_code == 2
    with pytest.raises(PlatformError, match=r"no secret named: `make rotate SECRET=<name>`"):
        rotate.spec_for(smap, "")


def _with_roller(seeded, smap, fake_kube, postgres_dsn, role, roller):
    _, kubeconfig = fake_kube
    smap = smap.model_copy(
        update={
            "rotations": {
                "db": RotationSpec(path="postgresql", key="users-password", kind="postgres-role", role=role)
            }
        }
    )
    pgrole.set_password(postgres_dsn, role, seeded.read("postgresql").data["users-password"])
    client = config.new_client_from_config(config_file=str(kubeconfig))
    spec = rotate.spec_for(smap, "db")
    steps = rotate.steps_for(spec, smap, seeded, KubeSecrets(client), postgres_dsn, roller)
    return rotate.Plan("db", spec, steps)


def test_rotation_rolls_only_the_consumers_that_must_restart(seeded, smap, fake_kube, postgres_dsn, pg_role):
    """users reads the password at every connection: it rolls. postgresql-credentials is `rollout: false`
    (bootstrap only; ALTER ROLE changed the password): the database is not restarted."""
    roller = RecordingRoller()
    plan = _with_roller(seeded, smap, fake_kube, postgres_dsn, pg_role, roller)
    titles = [title for title, _ in plan.steps]
    assert titles[-1] == "roll users in apps" and not any("postgresql in data" in t for t in titles)
    rotate.run(plan, seeded, lambda _line: None)
    assert roller.calls == [("apps", ("users",))]


def test_stuck_rollout_restores_everything(seeded, smap, fake_kube, postgres_dsn, pg_role):
    roller = RecordingRoller(stuck=True)
    plan = _with_roller(seeded, smap, fake_kube, postgres_dsn, pg_role, roller)
    old = seeded.read("postgresql").data["users-password"]
    lines: list[str] = []
    with pytest.raises(PlatformError, match=r"rollout of apps/users not finished") as exc:
        rotate.run(plan, seeded, lines.append)
    assert exc.value.exit_code == 6
    assert seeded.read("postgresql").data["users-password"] == old
    assert pgrole.scram_matches(pgrole.verifier(postgres_dsn, pg_role), old)
    assert _secret_password(fake_kube[0]) == old
    assert any(line.startswith("ROLLBACK INCOMPLETE: roll users") for line in lines)  # still stuck

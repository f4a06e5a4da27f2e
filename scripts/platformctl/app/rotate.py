"""`rotate --secret NAME`: new value -> new KV version -> credential -> Secrets; undo all on any failure.

Steps after the KV write are callables so the CLI can wire the real ones (PostgreSQL, Kubernetes) and
each one is undone in reverse order when a later one fails.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from platformctl.adapters import pgrole, rabbitmq
from platformctl.adapters.vault import Vault
from platformctl.app import jwtkeys, smoke_hook
from platformctl.app.secrets_sync import SecretStore, sync
from platformctl.config.secret_map import RotationSpec, SecretMap
from platformctl.errors import ConfigError, PlatformError, UsageError

# (old value, new value) -> None; raise to abort the rotation.
Step = Callable[[str, str], None]
# Checks after every step (smoke subset); nothing to undo, a failure rolls the steps back.
Check = Callable[[], None]


class Issuer(Protocol):
    """A credential the server makes (an S3 access key): issued before the KV write, the previous one
    retired after every step and check passed, the new one discarded on rollback."""

    @property
    def title(self) -> str: ...

    def issue(self, data: dict[str, str]) -> dict[str, str]: ...

    def discard(self, data: dict[str, str]) -> None: ...

    def retire(self, data: dict[str, str]) -> None: ...


@dataclass
class Plan:
    name: str
    spec: RotationSpec
    steps: list[tuple[str, Step]] = field(default_factory=list)
    checks: list[tuple[str, Check]] = field(default_factory=list)
    issuer: Issuer | None = None


def spec_for(secret_map: SecretMap, name: str) -> RotationSpec:
    choices = ", ".join(sorted(secret_map.rotations))
    if not name:
        raise UsageError(f"no secret named: `make rotate SECRET=<name>` (choose {choices})")
    if name not in secret_map.rotations:
        raise UsageError(f"unknown secret '{name}' for rotate (choose {choices})")
    return secret_map.rotations[name]


def new_value(spec: RotationSpec, old: str) -> str:
    if spec.kind == "jwt-keyset":
        return jwtkeys.rotate(old, timedelta(seconds=spec.max_token_lifetime_seconds))
    return jwtkeys.new_password()


def describe(plan: Plan, vault: Vault) -> list[str]:
    """What the rotation would do, for --dry-run."""
    where = f"{vault.mount}/{vault.env}/{plan.spec.path}"
    first = plan.issuer.title if plan.issuer else f"generate a new value for {where} key '{plan.spec.key}'"
    lines = [
        f"{first} ({plan.spec.kind})",
        f"write it as a new KV version of {where} (check-and-set on the current version)",
    ]
    lines += [f"then: {title}" for title, _ in plan.steps]
    lines += [f"then check: {title}" for title, _ in plan.checks]
    if plan.issuer:
        lines.append("then: delete the previous credential on the server")
    lines.append("on any failure: restore the previous value as a new KV version and undo the steps done")
    return lines


def run(plan: Plan, vault: Vault, say: Callable[[str], None]) -> tuple[int, int]:
    """Rotate; return (previous KV version, new KV version). On failure restore and re-raise."""
    current = vault.read(plan.spec.path)
    old = current.data.get(plan.spec.key, "")
    if plan.issuer:
        data = plan.issuer.issue(current.data)
    else:
        data = {**current.data, plan.spec.key: new_value(plan.spec, old)}
    new = data[plan.spec.key]
    try:
        version = vault.write(plan.spec.path, data, cas=current.version)
    except BaseException:
        if plan.issuer:
            plan.issuer.discard(data)
        raise
    say(f"wrote {vault.mount}/{vault.env}/{plan.spec.path} version {version}")
    done: list[tuple[str, Step]] = []
    try:
        for title, step in plan.steps:
            done.append((title, step))  # a failed step may have half happened: undo it too
            step(old, new)
            say(f"done: {title}")
        for title, check in plan.checks:
            check()
            say(f"passed: {title}")
    except KeyboardInterrupt:
        _rollback(plan, vault, current.data, version, done, old, new, say)
        _discard(plan, data, say)
        raise
    except Exception as exc:
        _rollback(plan, vault, current.data, version, done, old, new, say)
        _discard(plan, data, say)
        error = PlatformError(f"rotation of {plan.name} failed ({exc}); previous value restored")
        error.exit_code = getattr(exc, "exit_code", 1)
        raise error from None
    _retire(plan, current.data, version)
    return current.version, version


def _discard(plan: Plan, data: dict[str, str], say: Callable[[str], None]) -> None:
    if plan.issuer is None:
        return
    try:
        plan.issuer.discard(data)
        say("rolled back: deleted the newly issued credential")
    except Exception as exc:
        say(f"ROLLBACK INCOMPLETE: delete the newly issued credential: {type(exc).__name__}: {exc}")


def _retire(plan: Plan, old_data: dict[str, str], version: int) -> None:
    """The new credential is live everywhere: a failure here is not rolled back, only reported."""
    if plan.issuer is None:
        return
    try:
        plan.issuer.retire(old_data)
    except PlatformError as exc:
        raise PlatformError(
            f"rotation of {plan.name} done (KV version {version}) but the previous credential was not "
            f"deleted ({exc}); delete it on the server by hand"
        ) from None


def _rollback(
    plan: Plan,
    vault: Vault,
    old_data: dict[str, str],
    version: int,
    done: list[tuple[str, Step]],
    old: str,
    new: str,
    say: Callable[[str], None],
) -> None:
    restored = vault.write(plan.spec.path, old_data, cas=version)
    where = f"{vault.mount}/{vault.env}/{plan.spec.path}"
    say(f"rolled back: {where} version {restored} holds the previous value")
    for title, step in reversed(done):
        try:
            step(new, old)  # every step is symmetric: apply the old value again
            say(f"rolled back: {title}")
        except Exception as exc:  # keep undoing the rest; the operator gets the list
            say(f"ROLLBACK INCOMPLETE: {title}: {type(exc).__name__}: {exc}")


def steps_for(
    spec: RotationSpec,
    secret_map: SecretMap,
    vault: Vault,
    store: SecretStore,
    pg_dsn: str | None,
    roller: Roller | None = None,
    rabbit: rabbitmq.Settings | None = None,
) -> list[tuple[str, Step]]:
    """The real steps: the credential where it lives (if anywhere but the Secret), the Secrets, then
    the roll of the consumers that must restart (`rollout: true` Secrets), waited for."""
    steps: list[tuple[str, Step]] = []
    if spec.kind == "rabbitmq-user":
        steps.append(_rabbit_step(spec, vault, rabbit))
    if spec.kind == "postgres-role":
        if not pg_dsn or not spec.role:
            raise ConfigError(
                "rotating a PostgreSQL role needs PLATFORMCTL_PG_DSN (admin connection, e.g. "
                "through `kubectl port-forward`) and `role` in the secret map"
            )
        dsn, role = pg_dsn, spec.role
        steps.append((f"ALTER ROLE {role}", lambda _old, new: pgrole.set_password(dsn, role, new)))
    names = rotated_secrets(secret_map, spec)
    steps.append(
        (f"update Secrets {', '.join(names)}", lambda _old, _new: _sync(vault, store, secret_map, names))
    )
    if roller is not None:
        rolled = [n for n in names if secret_map.secrets[n].rollout]
        for namespace, releases in sorted(_consumers(secret_map, rolled).items()):
            steps.append(
                (
                    f"roll {', '.join(releases)} in {namespace}",
                    _roll_step(roller, namespace, releases),
                )
            )
    return steps


def _rabbit_step(spec: RotationSpec, vault: Vault, rabbit: rabbitmq.Settings | None) -> tuple[str, Step]:
    if rabbit is None:
        raise ConfigError("rotating a RabbitMQ password needs PLATFORMCTL_RABBITMQ_API (see `rotate --help`)")
    user_key = spec.user_key or "username"
    user = vault.read(spec.path).data.get(user_key)
    if not user:
        raise ConfigError(f"{vault.mount}/{vault.env}/{spec.path} has no '{user_key}' (the RabbitMQ user)")
    settings = rabbit
    return (
        f"set the RabbitMQ password of {user} (management API) and check it over AMQP",
        lambda old, new: rabbitmq.rotate_and_verify(settings, user, old, new),
    )


def rotated_secrets(secret_map: SecretMap, spec: RotationSpec) -> list[str]:
    return sorted(n for n, s in secret_map.secrets.items() if s.path == spec.path)


def checks_for(spec: RotationSpec, secret_map: SecretMap, env: str) -> list[tuple[str, Check]]:
    """The smoke subset of every consumer release of the rotated Secrets."""
    releases = sorted(
        {r for rs in _consumers(secret_map, rotated_secrets(secret_map, spec)).values() for r in rs}
    )
    return [
        (f"smoke subset for {release}", functools.partial(smoke_hook.run, env, only=release))
        for release in releases
    ]


def _consumers(secret_map: SecretMap, names: list[str]) -> dict[str, list[str]]:
    """namespace -> consumer releases (a Secret is mounted only in its own namespace)."""
    out: dict[str, set[str]] = {}
    for name in names:
        spec = secret_map.secrets[name]
        out.setdefault(spec.namespace, set()).update(spec.consumers)
    return {ns: sorted(releases) for ns, releases in out.items()}


class Roller(Protocol):
    """Rolls the pods of `releases` in `namespace` onto the updated Secret and waits until they serve."""

    def roll(self, namespace: str, releases: list[str]) -> list[str]: ...


def _roll_step(roller: Roller, namespace: str, releases: list[str]) -> Step:
    def roll(_old: str, _new: str) -> None:
        roller.roll(namespace, releases)

    return roll


def _sync(vault: Vault, store: SecretStore, secret_map: SecretMap, names: list[str]) -> None:
    sync(vault, store, secret_map, only=names, rotating=True)

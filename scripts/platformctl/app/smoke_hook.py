"""The smoke use case run by other use cases: `apply` at the end, `rotate` once per consumer."""

from __future__ import annotations

from platformctl.app import release_plan, smoke
from platformctl.context import Context
from platformctl.errors import SmokeFailed


def run(env: str, only: str | None = None, ctx: Context | None = None) -> None:
    """The smoke suite for `env` (optionally one component's checks); SmokeFailed when it fails."""
    ctx = ctx or Context(env=env)
    with ctx.step(f"release plan ({env})"):
        plan = release_plan.from_terraform(env)
    try:
        smoke.check(ctx, plan, only)
    except SmokeFailed as exc:
        what = f"smoke subset for {only}" if only else f"smoke tests for {env}"
        raise SmokeFailed(f"{what} failed: {exc}") from None

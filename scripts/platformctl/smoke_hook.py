"""Running `platformctl smoke` from other verbs: `apply` at the end, `rotate` once per consumer."""

from __future__ import annotations

from platformctl.errors import SmokeFailed


def run(env: str, only: str | None = None) -> None:
    """`platformctl smoke` for `env` (optionally one component); raise SmokeFailed when it fails."""
    from platformctl import cli

    argv = ["smoke", "--env", env, *(["--only", only] if only else [])]
    code = cli.main(argv)
    if code:
        what = f"smoke subset for {only}" if only else f"smoke tests for {env}"
        raise SmokeFailed(f"{what} failed (exit {code}); see the smoke output above, fix, and rerun")

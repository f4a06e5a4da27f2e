"""Running the smoke suite from other verbs (`apply`, `rotate`), and knowing whether it exists yet."""

from __future__ import annotations

from platformctl.errors import SmokeFailed


def available() -> bool:
    """Whether a real `smoke` verb is registered (not the placeholder in commands/cluster_only.py)."""
    from platformctl import cli  # late: cli imports the verbs, which import modules that import this one

    return any(verb.__name__.rsplit(".", 1)[-1] == "smoke" for verb in cli.VERBS)


def run(env: str, only: str | None = None) -> None:
    """`platformctl smoke` for `env` (optionally one component); raise SmokeFailed when it fails."""
    from platformctl import cli

    argv = ["smoke", "--env", env, *(["--only", only] if only else [])]
    code = cli.main(argv)
    if code:
        what = f"smoke subset for {only}" if only else f"smoke tests for {env}"
        raise SmokeFailed(f"{what} failed (exit {code}); see the smoke output above, fix, and rerun")

"""The ordered release list from terraform/stacks/release-plan (provider-free; local state per env)."""

from __future__ import annotations

import json
from pathlib import Path

from platformctl.adapters.terraform import Stack
from platformctl.config import environments
from platformctl.config.paths import repo_root, state_dir
from platformctl.config.release import Release, parse_releases
from platformctl.errors import ConfigError


def from_file(path: Path) -> list[Release]:
    """A saved `terraform output -json releases` (used by tests and offline runs)."""
    try:
        return parse_releases(json.loads(path.read_text()))
    except OSError as exc:
        raise ConfigError(f"cannot read release list {path}: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(f"{path} is not JSON; save it with `terraform output -json releases`") from None


def from_terraform(
    env: str,
    terraform_dir: Path | None = None,
    state_root: Path | None = None,
    overlay: str | None = None,
) -> list[Release]:
    """Apply the release-plan stack for `env` (it only computes outputs) and read `releases`.

    `overlay`: the site profile's values overlay folder (relative to the repository), layered last.
    """
    state = (state_root or state_dir()) / env / "release-plan.tfstate"
    state.parent.mkdir(parents=True, exist_ok=True)
    root = terraform_dir or repo_root() / "terraform"
    variables = {"env": env, **({"values_overlay": overlay} if overlay else {})}
    # Its own TF_DATA_DIR beside the state: parallel runs (tests, two envs) never share one .terraform.
    data_dir = state.parent / "release-plan.terraform"
    stack = Stack(root / "stacks" / "release-plan", variables=variables, data_dir=data_dir)
    stack.init(backend_config={"path": str(state)})
    stack.apply()
    return parse_releases(stack.output("releases"))


def every_env(scratch: Path) -> dict[str, list[Release]]:
    """Every environment's release plan (environments.yaml order), state and working data under `scratch`."""
    return {env: from_terraform(env, state_root=scratch / "state") for env in environments.names()}

"""Single values of terraform/envs/<env>/<stack>.tfvars that the glue needs (a string setting per line)."""

from __future__ import annotations

import re

from platformctl.errors import ConfigError
from platformctl.paths import repo_root


def value(env: str, stack: str, key: str) -> str:
    """`key = "value"` of terraform/envs/<env>/<stack>.tfvars; ConfigError naming the file when absent."""
    path = repo_root() / "terraform" / "envs" / env / f"{stack}.tfvars"
    try:
        text = path.read_text()
    except OSError:
        raise ConfigError(f"{path} is missing; every env needs one var file per stack") from None
    match = re.search(rf'^\s*{re.escape(key)}\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if not match:
        raise ConfigError(f'{path} sets no {key}; add `{key} = "..."` for {env}')
    return match.group(1)

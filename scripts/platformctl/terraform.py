"""A small adapter over python-terraform (unmaintained upstream): only the calls platformctl uses.

Every call runs the real terraform without colour or prompts; a failure becomes a TerraformError with
the first error line and the fix (a held state lock names its ID and how to release it).
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, Terraform

from platformctl.errors import TerraformError
from platformctl.tools import find_tool

# python-terraform logs whole stdout/stderr at debug/warning level; our errors carry what matters.
logging.getLogger("python_terraform").setLevel(logging.CRITICAL)

_LOCK_ID = re.compile(r"ID:\s+(\S+)")

# Known causes -> the fix to name in the one-line error.
_HINTS = {
    "Failed to query available provider packages": (
        "the providers cannot be downloaded: allow access to the Terraform provider registry or "
        "point TF_CLI_CONFIG_FILE at a provider mirror"
    ),
    "No valid credential sources found": "set AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID/...)",
    "Backend initialization required": "rerun the same command: platformctl runs terraform init first",
}


def _first_error(stderr: str) -> str:
    for line in stderr.splitlines():
        line = line.strip().lstrip("│").strip()
        if line.startswith("Error:"):
            return line
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[0] if lines else "no error output"


class Stack:
    """One Terraform root module (working directory) with optional var file and local state path."""

    def __init__(
        self,
        working_dir: Path,
        var_file: Path | None = None,
        state: Path | None = None,
        variables: dict[str, str] | None = None,
    ) -> None:
        self.dir = working_dir
        self.var_file = var_file
        self.variables = variables or {}
        self.tf = Terraform(working_dir=str(working_dir), terraform_bin_path=str(find_tool("terraform")))
        self.state = state

    def _run(self, cmd: str, *args: str, **options: Any) -> tuple[int, str]:
        with warnings.catch_warnings():  # python-terraform calls the deprecated Logger.warn
            warnings.simplefilter("ignore", DeprecationWarning)
            code, out, err = self.tf.cmd(cmd, *args, no_color=IsFlagged, **options)
        if code != 0 and not (cmd == "plan" and code == 2):
            raise self._error(cmd, err or "")
        return code, out or ""

    def _error(self, cmd: str, stderr: str) -> TerraformError:
        if "Error acquiring the state lock" in stderr:
            lock = _LOCK_ID.search(stderr)
            lock_id = lock.group(1) if lock else "<ID>"
            return TerraformError(
                f"terraform state of {self.dir.name} is locked by another run "
                f"(lock {lock_id}); wait for it, or if that run died: "
                f"terraform -chdir={self.dir} force-unlock {lock_id}"
            )
        first = _first_error(stderr)
        full = f"run `terraform -chdir={self.dir} {cmd}` for the full output"
        hint = next((fix for cause, fix in _HINTS.items() if cause in stderr), full)
        return TerraformError(f"terraform {cmd} in {self.dir.name} failed: {first}; {hint}")

    def _common(self) -> dict[str, Any]:
        # Variables go through a temporary var file (python-terraform), never onto the command line.
        return {
            "var_file": str(self.var_file) if self.var_file else None,
            "var": self.variables or None,
            "state": str(self.state) if self.state else None,
            "input": False,
        }

    def init(
        self, backend_config: Path | dict[str, str] | list[str] | None = None, backend: bool = True
    ) -> None:
        """`terraform init -reconfigure` (one .terraform dir may serve several envs' backends).

        `backend_config`: a file, key=value pairs, or a list of both kinds (each one -backend-config=...).
        """
        config = str(backend_config) if isinstance(backend_config, Path) else backend_config
        self._run(
            "init",
            backend_config=config,
            backend=None if backend else False,
            input=False,
            reconfigure=IsFlagged,
        )

    def plan(self, out: Path | None = None, destroy: bool = False) -> tuple[bool, str]:
        """Run a plan; return (changes pending, human-readable plan text)."""
        code, text = self._run(
            "plan",
            detailed_exitcode=IsFlagged,
            out=str(out) if out else None,
            destroy=IsFlagged if destroy else None,
            lock_timeout="0s",
            **self._common(),
        )
        return code == 2, text

    def apply(self, plan_file: Path | None = None) -> str:
        if plan_file:
            return self._run("apply", str(plan_file), input=False, lock_timeout="0s")[1]
        return self._run("apply", auto_approve=IsFlagged, lock_timeout="0s", **self._common())[1]

    def destroy(self) -> str:
        return self._run("destroy", auto_approve=IsFlagged, lock_timeout="0s", **self._common())[1]

    def output(self, name: str) -> Any:
        text = self._run("output", name, json=IsFlagged, state=str(self.state) if self.state else None)[1]
        try:
            return json.loads(text)
        except ValueError:
            raise TerraformError(f"terraform output {name} in {self.dir.name} is not JSON") from None

"""A small adapter over python-terraform (unmaintained upstream): only the calls platformctl uses.

Every call runs the real terraform without colour or prompts; a failure becomes a TerraformError with
the first error line and the fix (a held state lock names its ID and how to release it).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, Terraform

from platformctl.adapters.tools import find_tool
from platformctl.errors import TerraformError

# python-terraform logs whole stdout/stderr at debug/warning level; our errors carry what matters.
logging.getLogger("python_terraform").setLevel(logging.CRITICAL)

_LOCK_ID = re.compile(r"ID:\s+(\S+)")

_REGISTRY_FIX = (
    "allow access to the Terraform provider registry or point TF_CLI_CONFIG_FILE at a provider mirror"
)

# Known causes -> the fix to name in the one-line error.
_HINTS = {
    "Failed to query available provider packages": _REGISTRY_FIX,
    "No valid credential sources found": "set AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID/...)",
    "Backend initialization required": "rerun the same command: platformctl runs terraform init first",
    # kind's own message (sigs.k8s.io/kind v0.29.0, used by tehcyx/kind 0.9.0) when the cluster in the
    # state has no node any more: it was deleted outside Terraform.
    "could not locate any control plane nodes": (
        "the kind cluster in this env's state was deleted outside Terraform; forget it with "
        "`terraform -chdir=terraform/.dev/cluster state rm 'module.kind[0].kind_cluster.this'`, "
        "then rerun `make apply`"
    ),
}

# `terraform init` when a provider cannot be installed (terraform 1.11, -no-color), one paragraph each:
#   Could not retrieve the list of available versions for provider tehcyx/kind:
#   could not connect to registry.<host>: failed to request discovery document: Get "https://...": <cause>
# (wrapped at about 78 columns), or `Error while installing hashicorp/aws v5.100.0: <cause>`. A filesystem
# mirror without the provider says "was not found in any of the search locations", then lists them.
_PROVIDER_FAILURE = re.compile(
    r"^(?:Could not retrieve the list of available versions for provider (\S+?)"
    r"|Error while installing (\S+) v\S+):\s*(.*)$"
)


def _paragraphs(stderr: str) -> list[str]:
    lines = [line.strip().lstrip("│").strip() for line in stderr.splitlines()]
    return [" ".join(block.split("\n")) for block in "\n".join(lines).split("\n\n") if block.strip()]


def _provider_failure(stderr: str) -> tuple[str, str] | None:
    """(what failed, the fixes) when providers could not be installed; providers with one cause share it.

    The fixes are "" when no cause is known: the caller then points at the full output."""
    paragraphs = _paragraphs(stderr)
    causes: dict[str, list[str]] = {}
    fixes: list[str] = []
    for index, paragraph in enumerate(paragraphs):
        match = _PROVIDER_FAILURE.match(paragraph)
        if not match:
            continue
        provider, raw = match.group(1) or match.group(2), match.group(3).strip()
        innermost = raw.rsplit('": ', 1)[-1]  # after the URL of the failed request: the network error
        if "was not found in any of the search locations" in raw:
            following = paragraphs[index + 1] if index + 1 < len(paragraphs) else ""
            places = (
                [p.strip() for p in following.split("- ") if p.strip()] if following.startswith("-") else []
            )
            cause = f"not in the provider mirror: {', '.join(places) or 'none configured'}"
            fix = (
                "add it to the mirror (`terraform providers mirror DIR` where the registry is reachable) "
                "or point TF_CLI_CONFIG_FILE at a mirror that has it"
            )
        elif raw.startswith("failed to query provider mirror"):
            cause, fix = (
                f"provider mirror unreachable: {innermost}",
                "check the network_mirror of TF_CLI_CONFIG_FILE",
            )
        elif raw.startswith("could not connect to"):
            cause, fix = f"registry unreachable: {innermost}", _REGISTRY_FIX
        else:
            cause, fix = raw, ""
        causes.setdefault(cause, []).append(provider)
        if fix and fix not in fixes:
            fixes.append(fix)
    if not causes:
        return None
    failures = [
        f"provider{'s' if len(names) > 1 else ''} {', '.join(sorted(names))} cannot be installed ({cause})"
        for cause, names in causes.items()
    ]
    return "; ".join(failures), "; ".join(fixes)


# Variables the helm provider reads from the environment, overriding the provider block (hashicorp/helm
# v3.1.2 helm/provider.go and helm/kubeconfig.go: KUBE_CONFIG_PATHS replaces `config_path`). Terraform
# gets the kubeconfig and context of the stack's variables only, whatever the caller's shell says.
KUBE_OVERRIDES = (
    "KUBE_CONFIG_PATHS",
    "KUBE_CONFIG_PATH",
    "KUBE_CTX",
    "KUBE_CTX_AUTH_INFO",
    "KUBE_CTX_CLUSTER",
    "KUBE_HOST",
    "KUBE_USER",
    "KUBE_PASSWORD",
    "KUBE_TOKEN",
    "KUBE_INSECURE",
    "KUBE_TLS_SERVER_NAME",
    "KUBE_CLIENT_CERT_DATA",
    "KUBE_CLIENT_KEY_DATA",
    "KUBE_CLUSTER_CA_CERT_DATA",
    "KUBE_PROXY_URL",
)


def terraform_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without the provider overrides above."""
    return {k: v for k, v in environ.items() if k not in KUBE_OVERRIDES}


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
        data_dir: Path | None = None,
    ) -> None:
        self.dir = working_dir
        self.data_dir = data_dir  # TF_DATA_DIR: .terraform elsewhere, so runs never share the stack's
        self.var_file = var_file
        self.variables = variables or {}
        self.tf = Terraform(working_dir=str(working_dir), terraform_bin_path=str(find_tool("terraform")))
        self.state = state

    def _run(self, cmd: str, *args: str, **options: Any) -> tuple[int, str]:
        # python-terraform builds the argument list (and the temporary var file for `variables`); the
        # process runs here, with the environment cleaned of provider overrides.
        argv = self.tf.generate_cmd_string(cmd, *args, no_color=IsFlagged, **options)
        try:
            result = subprocess.run(
                argv,
                cwd=self.dir,
                env=self._environment(),
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            self.tf.temp_var_files.clean_up()
        code = result.returncode
        if code != 0 and not (cmd == "plan" and code == 2):
            raise self._error(cmd, result.stderr or "")
        return code, result.stdout or ""

    def _environment(self) -> dict[str, str]:
        env = terraform_environment(os.environ)
        if self.data_dir:
            env["TF_DATA_DIR"] = str(self.data_dir)
        return env

    def _error(self, cmd: str, stderr: str) -> TerraformError:
        if "Error acquiring the state lock" in stderr:
            lock = _LOCK_ID.search(stderr)
            lock_id = lock.group(1) if lock else "<ID>"
            return TerraformError(
                f"terraform state of {self.dir.name} is locked by another run "
                f"(lock {lock_id}); wait for it, or if that run died: "
                f"terraform -chdir={self.dir} force-unlock {lock_id}"
            )
        full = f"run `terraform -chdir={self.dir} {cmd}` for the full output"
        providers = _provider_failure(stderr)
        if providers:
            failed, fixes = providers
            return TerraformError(f"terraform {cmd} in {self.dir.name} failed: {failed}; {fixes or full}")
        first = _first_error(stderr)
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

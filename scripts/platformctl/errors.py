"""Errors the CLI turns into one line on stderr and a documented exit code (see README, "Exit codes")."""

from __future__ import annotations


class PlatformError(Exception):
    """Base class: the message names the problem and the fix; `exit_code` is what the CLI returns."""

    exit_code = 1


class UsageError(PlatformError):
    exit_code = 2


class ConfigError(PlatformError):
    exit_code = 3


class ToolNotFound(ConfigError):
    def __init__(self, name: str) -> None:
        super().__init__(f"required tool '{name}' not found in .tools/bin or on PATH; run `make setup`")
        self.name = name


class VaultError(PlatformError):
    exit_code = 4


class VaultSecretMissing(VaultError):
    """The KV entry does not exist (callers that may create it catch this one)."""


class TerraformError(PlatformError):
    exit_code = 5


class KubernetesError(PlatformError):
    exit_code = 6


class SmokeFailed(PlatformError):
    exit_code = 7


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "unexpected error (rerun with --verbose for a traceback)",
    UsageError.exit_code: "usage: unknown verb, flag or ENV",
    ConfigError.exit_code: "configuration: versions.yaml, values, secret map, missing tool",
    VaultError.exit_code: "Vault: unreachable, sealed, denied, missing path or key",
    TerraformError.exit_code: "Terraform: init/plan/apply failed or state lock held",
    KubernetesError.exit_code: "Kubernetes: context missing or wrong, API unreachable, rollout failed",
    SmokeFailed.exit_code: "smoke tests failed",
}

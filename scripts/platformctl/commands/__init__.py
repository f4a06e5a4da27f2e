"""One module per verb; each has `register(subparsers) -> ArgumentParser` and sets `handler`.

A handler is `handler(args: argparse.Namespace, ctx: Context) -> int`; it raises PlatformError subclasses
for expected failures and leaves the exit code mapping to cli.main.

The verb modules import the Vault, Kubernetes, AWS, Helm and PostgreSQL clients, which take most of a second.
So VERBS names each module with the one-line help of the verbs it registers: that is all `platformctl --help`,
`--version` and a usage error need, and cli.build_parser imports a module only when one of its verbs is on the
command line (tests/unit/test_cli_start.py keeps these lines equal to the ones the modules register).
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType
from typing import Any


class Verb:
    """A verb module, imported on first use; `helps` maps each verb it registers to its one-line help."""

    def __init__(self, module: str, helps: dict[str, str]) -> None:
        self.__name__ = f"{__name__}.{module}"
        self.helps = helps

    def load(self) -> ModuleType:
        return importlib.import_module(self.__name__)

    def register(self, verbs: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = self.load().register(verbs)
        return parser

    def __repr__(self) -> str:
        return f"Verb({self.__name__!r})"


VERBS: list[Verb | ModuleType] = [
    Verb("setup", {"setup": "install pinned tools into .tools/ (idempotent)"}),
    Verb(
        "doctor",
        {"doctor": "can `apply` of ENV run now? tools, Vault, kube context, Docker, Terraform providers"},
    ),
    Verb(
        "quality",
        {
            "lint": "ruff, yamllint, terraform fmt, helm lint --strict, shellcheck",
            "test": "every test suite that needs no cluster (pytest)",
        },
    ),
    Verb("render", {"render": "render ENV's own charts into reports/rendered/ENV"}),
    Verb("vault", {"vault": "local dev Vault: `vault dev` starts and seeds it, `vault dev --stop` stops it"}),
    Verb("secrets", {"secrets": "sync Vault secrets into Kubernetes Secrets"}),
    Verb("values", {"values": "generate and validate the per-release values files for ENV"}),
    Verb(
        "storage",
        {"storage": "create the platform's buckets (versioned, least-privilege policy); idempotent"},
    ),
    Verb("rotate", {"rotate": "rotate one secret: new KV version, credential, Secrets; rollback on failure"}),
    Verb("plan", {"plan": "show what apply would change for ENV (changes no infrastructure)"}),
    Verb(
        "apply",
        {"apply": "cluster, namespaces, images, secrets, values, releases and smoke tests for ENV"},
    ),
    Verb("bench", {"bench": "run the benchmarks and print their figures"}),
    Verb("smoke", {"smoke": "post-deploy smoke tests (testinfra + HTTP) against the current kube context"}),
    Verb("destroy", {"destroy": "tear down ENV's releases, namespaces and cluster"}),
    Verb("releases", {"releases": "Helm releases of ENV: status table, history of one, rollback of one"}),
    Verb(
        "backup",
        {
            "backup": "backups of the users database: run one now, list them, restore one (Jobs from the "
            "backup CronJob)"
        },
    ),
]

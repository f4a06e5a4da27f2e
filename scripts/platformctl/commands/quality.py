"""`platformctl lint` and `platformctl test`."""

from __future__ import annotations

import argparse
from typing import Any

from platformctl.app import checks
from platformctl.context import Context


def register(verbs: Any) -> argparse.ArgumentParser:
    lint = verbs.add_parser(
        "lint",
        help="ruff, yamllint, terraform fmt, helm lint --strict, shellcheck",
        description="Run every linter over the repository; print a table; fail on any finding.",
    )
    lint.set_defaults(handler=lambda args, ctx: checks.lint(ctx))
    test: argparse.ArgumentParser = verbs.add_parser(
        "test",
        help="every test suite that needs no cluster (pytest)",
        description="Run pytest over tests/ and services/ except tools/e2e and tests/smoke; JUnit XML goes "
        "to reports/junit/test.xml. Extra arguments after -- go to pytest.",
    )
    test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest (after --)")
    test.set_defaults(handler=_test)
    return test


def _test(args: argparse.Namespace, ctx: Context) -> int:
    extra = [a for a in args.pytest_args if a != "--"]
    return checks.test(ctx, extra)

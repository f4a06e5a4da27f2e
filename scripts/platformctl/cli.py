"""The `platformctl` command line: global flags, one sub-command per verb, errors turned into exit codes."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from platformctl import __version__
from platformctl.commands import VERBS
from platformctl.context import ENVIRONMENTS, Context
from platformctl.errors import EXIT_CODES, PlatformError, UsageError


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as our one-line error with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _env_choice(value: str) -> str:
    if value not in ENVIRONMENTS:
        raise UsageError(f"unknown ENV '{value}' (choose {', '.join(ENVIRONMENTS)})")
    return value


def _add_globals(parser: argparse.ArgumentParser, defaults: bool) -> None:
    # Global flags are accepted before and after the verb; SUPPRESS keeps a later default from
    # overwriting a value given earlier.
    default = (lambda value: value) if defaults else (lambda _value: argparse.SUPPRESS)
    parser.add_argument(
        "--env",
        type=_env_choice,
        default=default(os.environ.get("ENV", "dev")),
        help="environment: dev (default), staging or prod; also read from $ENV",
    )
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        default=default(False),
        help="more detail, and a traceback on errors",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        default=default(False),
        help="show what would change, change nothing",
    )


def build_parser() -> argparse.ArgumentParser:
    codes = "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items())
    parser = _Parser(
        prog="platformctl",
        description="Glue for the platform repository: tools, Vault secrets, values, Terraform, smoke tests.",
        epilog=f"exit codes:\n{codes}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"platformctl {__version__}")
    _add_globals(parser, defaults=True)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    verbs.required = True
    for verb in VERBS:
        sub = verb.register(verbs)
        _add_globals(sub, defaults=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    ctx = Context()
    try:
        args = build_parser().parse_args(argv)
        ctx.env, ctx.verbose, ctx.dry_run = args.env, args.verbose, args.dry_run
        return int(args.handler(args, ctx) or 0)
    except PlatformError as exc:
        if ctx.verbose:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # the CLI edge: anything unexpected becomes one line (traceback with -v)
        if ctx.verbose:
            traceback.print_exc()
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (rerun with --verbose for details)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""The `platformctl` command line: global flags, one sub-command per verb, errors turned into exit codes."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from platformctl import __version__
from platformctl.commands import VERBS
from platformctl.config import environments
from platformctl.context import Context
from platformctl.errors import EXIT_CODES, PlatformError, UsageError


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as our one-line error with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _env_choice(value: str) -> str:
    known = environments.names()
    if value not in known:
        raise UsageError(f"unknown ENV '{value}' (choose {', '.join(known)})")
    return value


def _add_globals(parser: argparse.ArgumentParser, defaults: bool) -> None:
    # Global flags are accepted before and after the verb; SUPPRESS keeps a later default from
    # overwriting a value given earlier.
    default = (lambda value: value) if defaults else (lambda _value: argparse.SUPPRESS)
    parser.add_argument(
        "--env",
        type=_env_choice,
        default=default(os.environ.get("ENV", "dev")),
        help="environment from environments.yaml, dev by default; also read from $ENV",
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


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every verb. Given the command line, only the modules of the verbs named on it are
    imported; the other verbs get their one-line help alone, so `--version`, `--help` and a usage error import
    no verb module (nor the Vault, Kubernetes, AWS or Helm clients). A module a test put into VERBS in place
    of a Verb is always registered."""
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
    # The chosen verb is one of the words on the command line, exactly (argparse matches sub-commands whole).
    named = None if argv is None else set(argv)
    for verb in VERBS:
        helps: dict[str, str] | None = getattr(verb, "helps", None)
        if named is not None and helps and named.isdisjoint(helps):
            for name, text in helps.items():
                _add_globals(verbs.add_parser(name, help=text), defaults=False)
            continue
        sub = verb.register(verbs)
        _add_globals(sub, defaults=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    ctx = Context()
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        args = build_parser(argv).parse_args(argv)
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

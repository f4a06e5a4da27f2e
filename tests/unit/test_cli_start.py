"""`platformctl --version`, `--help` and usage errors import no verb module and none of the heavy clients; a
verb's module (and its full help) is loaded only when that verb is on the command line."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys

import pytest
from platformctl import cli

HEAVY = ("kubernetes", "hvac", "boto3", "pyhelm3", "jsonschema", "pydantic", "python_terraform", "psycopg")


def _imported(*argv: str) -> set[str]:
    """Top-level names of every module `python -X importtime -m platformctl.cli ARGV` imported."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "platformctl.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)$", result.stderr, re.MULTILINE)
    assert names, result.stderr
    return set(names)


@pytest.mark.parametrize(
    "argv",
    [["--version"], ["--help"], ["frobnicate"], [], ["--env", "qa"]],
    ids=["version", "help", "unknown-verb", "no-verb", "bad-env"],
)
def test_start_imports_no_heavy_module(argv: list[str]) -> None:
    imported = _imported(*argv)
    heavy = sorted(n for n in imported if n.split(".")[0] in HEAVY)
    assert not heavy, f"`platformctl {' '.join(argv)}` imported {heavy}"
    verbs = sorted(n for n in imported if n.startswith("platformctl.commands."))
    assert not verbs, f"`platformctl {' '.join(argv)}` imported verb modules {verbs}"


def test_a_verb_loads_only_its_own_module() -> None:
    code = (
        "import json, sys\n"
        "from platformctl import cli\n"
        "cli.build_parser(['--env', 'prod', 'doctor', '--help'])\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('platformctl.commands.'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(result.stdout) == ["platformctl.commands.doctor"]


def _choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_top_level_help_is_the_same_without_loading_the_verbs() -> None:
    """The one-line helps in platformctl.commands.VERBS are the ones the verb modules register."""
    assert cli.build_parser(["--help"]).format_help() == cli.build_parser().format_help()


def test_each_verb_help_is_the_full_one() -> None:
    full = _choices(cli.build_parser())
    for name, parser in full.items():
        assert _choices(cli.build_parser([name, "--help"]))[name].format_help() == parser.format_help(), name
    assert "--secret NAME" in full["rotate"].format_help()


def test_verb_help_in_a_subprocess_shows_its_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "platformctl.cli", "rotate", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: platformctl rotate")
    assert "--secret NAME" in result.stdout


def test_a_verb_still_runs_through_main(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["releases", "status", "--revision", "3"]) == 2
    assert "--revision only applies to `releases rollback`" in capsys.readouterr().err

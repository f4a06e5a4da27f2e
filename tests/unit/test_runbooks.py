"""The runbooks in docs/runbooks stay true: every command of their ```sh blocks is checked against the
real tools, without a cluster.

- `platformctl`: the verb, every flag and every choice value must appear in the real `--help`; then the
  command runs with `--dry-run` and may only exit 0 or with the "needs Vault" (4) / "needs a cluster"
  (6) code that VERB_POLICY decides per verb, or, where no dry run can work here, the real parser must
  accept it.
- `make`: the target must exist, `make -n` must succeed, and the platformctl call it makes is dry-run
  as above (so e.g. `make rotate SECRET=name` checks the name).
- `kubectl`/`helm`: `<sub> --help` of the pinned binary must succeed and list every flag used.
- every repository path named in a command or in the prose, and every relative link, must exist.
- test_checker_fails_on_... proves that a wrong verb, flag, value, target, tool or file is reported.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import re
import shlex
import shutil
import subprocess
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO / "docs" / "runbooks"
PLATFORMCTL = ".venv/bin/platformctl"
SECTIONS = ("## When to use it", "## Prerequisites", "## Commands", "## Verify", "## Back out")

# Per verb: how it is exercised without a cluster, and which exit codes are acceptable. "--help": the
# real parser (the one that prints --help) must accept the command; it is not run.
VERB_POLICY: dict[str, tuple[str, frozenset[int], str]] = {
    "rotate": ("--dry-run", frozenset({0, 4, 6}), "reads Vault (4 without one), then the cluster (6)"),
    "secrets": ("--dry-run", frozenset({0, 4, 6}), "reads Vault (4 without one), then the cluster (6)"),
    "releases": ("--dry-run", frozenset({0, 6}), "asks helm about the cluster's releases (6 without one)"),
    # doctor only reads, but probes every tool's version (checkov alone takes seconds): --help here.
    "doctor": ("--help", frozenset({0}), "read-only report; its probing is covered by its own tests"),
    "render": ("--dry-run", frozenset({0}), "renders from the repository alone"),
    # The dry runs of plan/apply run `terraform init`, which needs the provider registry (exit 5 here);
    # `make -n plan|apply` covers the call itself.
    "plan": ("--help", frozenset({0}), "terraform init needs the provider registry"),
    "apply": ("--help", frozenset({0}), "terraform init needs the provider registry"),
    "smoke": ("--dry-run", frozenset({0, 6}), "reads the release plan, then needs the cluster (6)"),
    "backup": ("--dry-run", frozenset({0, 6}), "reads the backup CronJob from the cluster (6 without one)"),
}
RELEASE_PLAN_VERBS = {"smoke", "releases", "render", "values"}
SHELL_COMMANDS = {"export", "umask", "printf", "echo", "base64", "rm", "kill", "grep", "mkdir"}
KUBECTL_GROUPS = {"rollout", "config", "auth", "create", "set", "top", "certificate"}
HELM_GROUPS = {"get", "show", "repo", "plugin", "dependency"}
REPO_PREFIXES = (
    "charts/",
    "values/",
    "terraform/",
    "docs/",
    "scripts/",
    "tests/",
    "services/",
    ".tools/",
    ".venv/",
    "Makefile",
    "versions.yaml",
)
RUNTIME_PREFIXES = ("values/generated/", "reports/", ".state/")  # created by the commands themselves
SEPARATORS = {"|", "||", "&", "&&", ";", "(", ")", "{", "}"}
REDIRECTS = {">", ">>", "<"}


@dataclass
class Command:
    source: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.source}: {shlex.join(self.argv)}"


# --- extraction -------------------------------------------------------------------------------------


def sh_blocks(text: str) -> list[str]:
    blocks = re.findall(r"^([ \t]*)```sh\n(.*?)^\1```", text, re.S | re.M)
    return [textwrap.dedent(body) for _, body in blocks]


def _expand(line: str, variables: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, line)


def _simple_commands(tokens: list[str]) -> list[list[str]]:
    commands: list[list[str]] = [[]]
    skip_next = False
    for token in tokens:
        if skip_next:
            skip_next = False
        elif token in REDIRECTS:
            skip_next = True  # the redirect's target is a file the command creates or reads at run time
        elif token in SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def _tokens(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    return list(lexer)


def commands_of(path: Path) -> list[Command]:
    """Every simple command of a runbook's sh blocks, with the variables its earlier lines set."""
    variables = {"PWD": ".", "ENV": "dev"}
    found: list[Command] = []
    for block in sh_blocks(path.read_text()):
        for line in block.replace("\\\n", " ").splitlines():
            for argv in _simple_commands(_tokens(_expand(line, variables))):
                while argv and (argv[0] == "export" or re.fullmatch(r"\w+=.*", argv[0])):
                    if argv[0] != "export":
                        key, value = argv[0].split("=", 1)
                        variables[key] = value
                    argv = argv[1:]
                if argv:
                    found.append(Command(path.name, argv, dict(variables)))
    return found


# --- tools' help ------------------------------------------------------------------------------------


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60, env=env, check=False)


@functools.cache
def output_of(*argv: str) -> tuple[int, str]:
    result = _run(list(argv))
    return result.returncode, result.stdout + result.stderr


def help_text(*argv: str) -> tuple[int, str]:
    return output_of(*argv, "--help")


@functools.cache
def _verb_parsers() -> dict[str, argparse.ArgumentParser]:
    """The real CLI's parsers (in process: the same text as `platformctl VERB --help`, without
    starting Python once per verb)."""
    from platformctl.cli import build_parser

    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def platformctl_verbs() -> set[str]:
    return set(_verb_parsers())


def verb_help(verb: str) -> str:
    return _verb_parsers()[verb].format_help()


def _flags(help_output: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", help_output))


def choice_flags(verb: str) -> dict[str, set[str]]:
    """Flags whose --help lists their choices, e.g. `--entry {auto,traefik,port-forward}`."""
    found = re.findall(r"(--[\w-]+) \{([\w,-]+)\}", verb_help(verb))
    return {flag: set(choices.split(",")) for flag, choices in found}


def platformctl_flags(verb: str) -> set[str]:
    return _flags(verb_help(verb))


@functools.cache
def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z0-9-]+):", (REPO / "Makefile").read_text(), re.M))


# --- static checks ----------------------------------------------------------------------------------


def check_platformctl(cmd: Command) -> list[str]:
    args = cmd.argv[1:]
    while args and args[0].startswith("-"):  # global flags before the verb
        args = args[2:] if args[0] == "--env" else args[1:]
    if not args or args[0] not in platformctl_verbs():
        return [f"{cmd}: unknown platformctl verb {args[:1]}"]
    verb, rest = args[0], args[1:]
    known = platformctl_flags(verb)
    problems = [f"{cmd}: {verb} has no flag {f}" for f in _used_flags(rest) if f not in known]
    for flag, value in itertools.pairwise(rest):
        if value not in choice_flags(verb).get(flag, {value}):
            problems.append(f"{cmd}: {flag} takes one of {sorted(choice_flags(verb)[flag])}, not {value}")
    positional_help = verb_help(verb).partition("positional arguments:")[2].partition("options:")[0]
    choices = re.search(r"\{([a-z,-]+)\}", positional_help)
    positional = [a for i, a in enumerate(rest) if not a.startswith("-") and not _is_value(rest, i)]
    if choices and (not positional or positional[0] not in choices.group(1).split(",")):
        problems.append(f"{cmd}: {verb} expects one of {{{choices.group(1)}}}")
    if verb not in VERB_POLICY:
        problems.append(f"{cmd}: no VERB_POLICY for {verb}; decide how it is exercised")
    return problems


def _is_value(args: list[str], index: int) -> bool:
    prev = args[index - 1] if index else ""
    return prev.startswith("--") and "=" not in prev


def _used_flags(args: list[str]) -> list[str]:
    return [a.split("=", 1)[0] for a in args if a.startswith("-") and a != "--"]


def check_cli(cmd: Command, groups: set[str], extra: tuple[str, ...] = ()) -> list[str]:
    tool = str(REPO / ".tools/bin" / Path(cmd.argv[0]).name)
    args = cmd.argv[1 : cmd.argv.index("--")] if "--" in cmd.argv else cmd.argv[1:]
    sub = [args[0]] + ([args[1]] if args[0] in groups and len(args) > 1 else [])
    code, text = help_text(tool, *sub)
    if code != 0 or "unknown command" in text.lower():
        return [f"{cmd}: `{' '.join(sub)}` is not a {Path(tool).name} command"]
    known = _flags(text) | (_flags(output_of(tool, *extra)[1]) if extra else set())
    return [
        f"{cmd}: {Path(tool).name} {' '.join(sub)} has no flag {f}"
        for f in _used_flags(args)
        if f not in known
    ]


def check_make(cmd: Command) -> list[str]:
    targets = [a for a in cmd.argv[1:] if "=" not in a]
    return [f"{cmd}: no make target {t}" for t in targets if t not in make_targets()]


def check_paths(cmd: Command) -> list[str]:
    values = [a.split("=", 1)[-1] for a in cmd.argv[1:]]
    return [f"{cmd}: {v} does not exist" for v in values if not path_exists(v)]


def path_exists(value: str) -> bool:
    value = value.removeprefix("./")
    if not value.startswith(REPO_PREFIXES) or value.startswith(RUNTIME_PREFIXES) or "<" in value:
        return True
    return (REPO / value).exists()


def check_command(cmd: Command) -> list[str]:
    name = cmd.argv[0].removeprefix("./")
    if name == PLATFORMCTL:
        problems = check_platformctl(cmd)
    elif name == "make":
        problems = check_make(cmd)
    elif name in ("kubectl", ".tools/bin/kubectl"):
        problems = check_cli(cmd, KUBECTL_GROUPS, ("options",))
    elif name in ("helm", ".tools/bin/helm"):
        problems = check_cli(cmd, HELM_GROUPS)
    elif name in SHELL_COMMANDS:
        problems = []
    else:
        problems = [f"{cmd}: {name} is not a command the runbooks may use"]
    return problems + check_paths(cmd)


def check_prose(path: Path, base: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    problems = []
    for link in re.findall(r"\]\(([^)#]+)\)", text):
        if not link.startswith("http") and not (base / link).exists():
            problems.append(f"{path.name}: link {link} does not exist")
    for code in re.findall(r"`([^`\s]+)`", text):
        if not path_exists(code):
            problems.append(f"{path.name}: {code} does not exist")
    return problems


def check_runbooks(folder: Path, base: Path = RUNBOOKS) -> list[str]:
    """All problems of the runbooks in `folder`; relative links resolve from `base`."""
    problems: list[str] = []
    for path in sorted(folder.glob("*.md")):
        problems += check_prose(path, base)
        with ThreadPoolExecutor(max_workers=3) as pool:
            problems += [p for found in pool.map(check_command, commands_of(path)) for p in found]
    return problems


# --- dry runs ---------------------------------------------------------------------------------------


def _environment(cmd: Command, kubeconfig: Path) -> dict[str, str]:
    dropped = ("ENV", "MAKEFLAGS")  # no Vault, no inherited ENV or make flags
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_") and k not in dropped}
    env |= {k: v for k, v in cmd.env.items() if k.startswith("PLATFORMCTL_")}
    env["KUBECONFIG"] = str(kubeconfig)  # a file that does not exist: no cluster can be reached
    return env


def make_dry_run(cmd: Command, kubeconfig: Path) -> tuple[str | None, Command | None]:
    """`make -n`; the problem, and the target's own platformctl call (the last one: `setup` runs first)
    so that what make passes on (e.g. a SECRET name) is dry-run by platformctl itself."""
    result = _run(["make", "-n", *cmd.argv[1:]], _environment(cmd, kubeconfig))
    if result.returncode != 0:
        return f"{cmd}: make -n exited {result.returncode}", None
    calls = [line for line in result.stdout.splitlines() if line.startswith(PLATFORMCTL)]
    return None, Command(f"{cmd.source} (make)", shlex.split(calls[-1]), cmd.env) if calls else None


def dry_run(cmd: Command, kubeconfig: Path) -> str | None:
    """Run one platformctl command as far as possible without a cluster; the problem or None."""
    verb = next((a for a in cmd.argv[1:] if a in VERB_POLICY), None)
    if verb is None:
        return f"{cmd}: no VERB_POLICY for this verb; decide how it is exercised"
    mode, allowed, why = VERB_POLICY[verb]
    if mode == "--help":
        return parse_problem(cmd, verb)
    argv = [PLATFORMCTL, "--dry-run", *[a for a in cmd.argv[1:] if a != "--dry-run"]]
    result = _run(argv, _environment(cmd, kubeconfig))
    for _ in range(5):  # another process (a parallel test run) holds the release-plan state lock
        if "locked by another run" not in result.stderr:
            break
        time.sleep(1)
        result = _run(argv, _environment(cmd, kubeconfig))
    if result.returncode in allowed:
        return None
    return f"{cmd}: exited {result.returncode}, allowed {sorted(allowed)} ({why}): {result.stderr[-300:]}"


def parse_problem(cmd: Command, verb: str) -> str | None:
    """No dry run possible: the real parser (the one behind `--help`) must accept the whole command."""
    from platformctl.cli import build_parser

    try:
        build_parser().parse_args(cmd.argv[1:])
    except SystemExit as exc:
        return f"{cmd}: platformctl rejects it (exit {exc.code}); see `platformctl {verb} --help`"
    return None


def dedupe_key(argv: list[str]) -> str:
    """Commands that take the same path through platformctl without a cluster: the same dry run. Drops
    --dry-run, the ENV and the values of choice flags (checked statically)."""
    verb = next((a for a in argv[1:] if a in VERB_POLICY), "")
    drop = {"--env"} | set(choice_flags(verb) if verb else {})
    kept, skip = [], False
    for arg in argv:
        if not skip and arg != "--dry-run" and arg not in drop:
            kept.append(arg)
        skip = arg in drop
    return shlex.join(kept)


def all_commands() -> list[Command]:
    return [cmd for path in sorted(RUNBOOKS.glob("*.md")) for cmd in commands_of(path)]


# --- tests ------------------------------------------------------------------------------------------

RUNBOOK_NAMES = [
    "rotate-a-secret",
    "add-a-minio-pool",
    "restore-users-database",
    "roll-back-a-release",
    "debug-a-failing-smoke-test",
]


@pytest.mark.parametrize("name", RUNBOOK_NAMES)
def test_runbook_has_every_section_and_commands(name):
    text = (RUNBOOKS / f"{name}.md").read_text()
    missing = [s for s in SECTIONS if s not in text]
    assert not missing, f"{name}.md lacks {missing}"
    assert commands_of(RUNBOOKS / f"{name}.md"), f"{name}.md has no ```sh command"


def test_runbooks_put_no_secret_on_a_command_line():
    pattern = re.compile(r"(PGPASSWORD|_PASSWORD|SECRET_ID|TOKEN)=\S|--password|://[^/@\s]+:[^@\s]+@")
    leaks = [str(c) for c in all_commands() if pattern.search(shlex.join(c.argv).split(" -- ")[0])]
    assert not leaks, leaks


def test_every_verb_flag_and_file_in_the_runbooks_exists():
    assert check_runbooks(RUNBOOKS) == []


def test_runbook_commands_run_without_a_cluster(tmp_path):
    kubeconfig = tmp_path / "no-kubeconfig"
    makes = [c for c in all_commands() if c.argv[0] == "make"]
    expanded = [make_dry_run(c, kubeconfig) for c in makes]  # make -n is instant: in turn
    problems = [p for p, _ in expanded if p]
    owned = [c for c in all_commands() if c.argv[0] == PLATFORMCTL] + [c for _, c in expanded if c]
    assert makes and owned
    unique = list({dedupe_key(c.argv): c for c in owned}.values())
    # Verbs that apply the release-plan stack share its local state lock: one lane, in turn.
    shared = [c for c in unique if RELEASE_PLAN_VERBS & set(c.argv)]
    lanes = [shared] + [[c] for c in unique if c not in shared]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = pool.map(lambda lane: [dry_run(c, kubeconfig) for c in lane], lanes)
        problems += [p for lane in results for p in lane if p]
    assert problems == []


def test_checker_fails_on_an_unknown_verb_flag_file_or_target(tmp_path):
    copy = tmp_path / "runbooks"
    shutil.copytree(RUNBOOKS, copy)
    (copy / "bad.md").write_text(
        textwrap.dedent("""\
        ```sh
        .venv/bin/platformctl --env dev releases undo users
        .venv/bin/platformctl --env dev rotate --secret auth-jwt --force
        .venv/bin/platformctl --env dev teleport
        .venv/bin/platformctl smoke --env dev --entry sideways
        kubectl rollout status deployment/users --no-such-flag
        .tools/bin/helm frobnicate users
        make deploy ENV=dev
        grep -n x charts/nope/values.yaml
        curl http://example.invalid
        ```
        See [missing](missing.md).
        """)
    )
    problems = "\n".join(check_runbooks(copy))
    for expected in (
        "expects one of {status,history,rollback}",
        "rotate has no flag --force",
        "unknown platformctl verb ['teleport']",
        "has no flag --no-such-flag",
        "`frobnicate` is not a helm command",
        "no make target deploy",
        "charts/nope/values.yaml does not exist",
        "curl is not a command",
        "link missing.md does not exist",
    ):
        assert expected in problems, f"{expected!r} not reported in:\n{problems}"
    assert all(p.startswith("bad.md") for p in problems.splitlines()), problems


def test_dry_run_fails_on_a_name_platformctl_rejects(tmp_path):
    bad = Command("bad.md", ["make", "rotate", "ENV=dev", "SECRET=no-such-secret"])
    problem, call = make_dry_run(bad, tmp_path / "no-kubeconfig")
    assert problem is None and call is not None
    problem = dry_run(call, tmp_path / "no-kubeconfig")
    assert problem and "exited 2" in problem and "unknown secret" in problem


def test_readme_links_the_runbooks():
    rows = [line for line in (REPO / "README.md").read_text().splitlines() if "docs/runbooks/" in line]
    assert rows and rows[0].startswith("| "), "README.md's table has no row for docs/runbooks/"

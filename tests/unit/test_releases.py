"""`platformctl releases`: argument handling and parsing of helm's JSON through the real pyhelm3.

FakeHelmCommand is a fake: a pyhelm3 Command whose `run` answers with recorded helm JSON instead of calling
helm against a cluster (none exists in `make test`; the e2e issue runs the real thing). Everything above
it (pyhelm3's argument building and models, our tables, checks and errors) is real.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import semver
from platformctl import cli
from platformctl.adapters import releases
from platformctl.commands import releases as releases_cmd
from platformctl.context import Context
from platformctl.errors import KubernetesError, UsageError
from pyhelm3.command import Command

MANIFEST = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"


def _status(name: str, namespace: str, version: int, state: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "version": version,
        "info": {"status": state, "last_deployed": "2026-11-22T03:00:00Z", "description": "Upgrade complete"},
        "chart": {"metadata": {"name": "microservice", "version": "0.1.0", "apiVersion": "v2"}},
        "manifest": MANIFEST,
        "hooks": [],
    }


class FakeHelmCommand(Command):
    """FAKE helm runner: recorded `helm status/history/rollback` answers; records every argv."""

    def __init__(self, releases_: dict[tuple[str, str], list[str]], unreachable: bool = False) -> None:
        super().__init__(executable="helm")
        self.releases = releases_  # (name, namespace) -> status of revisions 1..n
        self.unreachable = unreachable
        self.calls: list[list[str]] = []

    def client_version(self) -> semver.VersionInfo:
        return semver.VersionInfo.parse("3.17.2")

    def _fail(self, message: str) -> None:
        from pyhelm3 import errors

        error = errors.ReleaseNotFoundError if "not found" in message else errors.Error
        raise error(1, b"", f"Error: {message}\n".encode())

    async def run(self, command: list[Any], input: bytes | None = None) -> bytes:
        argv = [str(part) for part in command]
        self.calls.append(argv)
        if self.unreachable:
            self._fail("Kubernetes cluster unreachable: connection refused")
        namespace = argv[argv.index("--namespace") + 1]
        revisions = self.releases.get((argv[1], namespace))
        if revisions is None:
            self._fail("release: not found")
        if argv[0] == "status":
            return json.dumps(_status(argv[1], namespace, len(revisions), revisions[-1])).encode()
        if argv[0] == "history":
            rows = [
                {"revision": i, "updated": f"2026-11-22T0{i}:00:00Z", "status": s, "description": "Upgrade"}
                for i, s in enumerate(revisions, start=1)
            ]
            return json.dumps(rows).encode()
        if argv[0] == "rollback" and "--dry-run" not in argv:
            revisions[-1] = "superseded"
            revisions.append("deployed")
        return b"Rollback was a success! Happy Helming!\n"


PLAN = [
    {"name": "traefik", "namespace": "ingress", "chart": {"path": None}, "values_files": []},
    {"name": "users", "namespace": "apps", "chart": {"path": "charts/microservice"}, "values_files": []},
    {"name": "auth", "namespace": "apps", "chart": {"path": "charts/microservice"}, "values_files": []},
]


@pytest.fixture
def fake() -> FakeHelmCommand:
    return FakeHelmCommand(
        {
            ("users", "apps"): ["superseded", "superseded", "deployed"],
            ("auth", "apps"): ["deployed", "failed"],
        }
    )


@pytest.fixture
def plan_file(tmp_path):
    path = tmp_path / "releases.json"
    path.write_text(json.dumps(PLAN))
    return path


def _cli(fake: FakeHelmCommand, plan_file, *argv: str) -> tuple[int, str]:
    """Parse with the real CLI parser, run the handler with the fake-backed client."""
    args = cli.build_parser().parse_args(["releases", *argv, "--releases", str(plan_file)])
    out = io.StringIO()
    ctx = Context(env=args.env, dry_run=args.dry_run, out=out, err=io.StringIO())
    return releases_cmd.handle(args, ctx, helm=releases.client(command=fake)), out.getvalue()


def test_status_lists_every_planned_release_in_plan_order(fake, plan_file):
    code, out = _cli(fake, plan_file, "status")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:4] == ["release", "namespace", "revision", "status"]
    assert [line.split()[:4] for line in lines[2:]] == [
        ["traefik", "ingress", "-", "not"],
        ["users", "apps", "3", "deployed"],
        ["auth", "apps", "2", "failed"],
    ]
    assert ["status", "users", "--output", "json", "--namespace", "apps"] in fake.calls


def test_history_of_one_release(fake, plan_file):
    code, out = _cli(fake, plan_file, "history", "users", "--max", "5")
    assert code == 0
    assert [line.split()[2:4] for line in out.splitlines()[2:]] == [
        ["1", "superseded"],
        ["2", "superseded"],
        ["3", "deployed"],
    ]
    assert ["history", "users", "--output", "json", "--max", "5", "--namespace", "apps"] in fake.calls


def test_rollback_dry_run_changes_nothing(fake, plan_file):
    code, out = _cli(fake, plan_file, "rollback", "users", "--revision", "2", "--dry-run")
    rollback = next(call for call in fake.calls if call[0] == "rollback")
    assert code == 0 and "would roll back users (apps) to revision 2" in out
    assert rollback[:3] == ["rollback", "users", "2"] and "--dry-run" in rollback
    assert fake.releases[("users", "apps")] == ["superseded", "superseded", "deployed"]


def test_rollback_makes_a_new_revision(fake, plan_file):
    code, out = _cli(fake, plan_file, "rollback", "users", "--revision", "1")
    assert code == 0 and "rolled back users (apps) to revision 1" in out
    assert out.splitlines()[-1].split()[2:4] == ["4", "deployed"]
    rollback = next(call for call in fake.calls if call[0] == "rollback")
    assert "--wait" in rollback and "--dry-run" not in rollback


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("history",), "needs a RELEASE name"),
        (("rollback", "users"), "needs --revision N"),
        (("status", "users"), "drop the RELEASE name"),
        (("history", "users", "--revision", "1"), "--revision only applies"),
        (("history", "nope"), "release 'nope' is not in the plan"),
        (("rollback", "users", "--revision", "3"), "revision 3 is the current revision"),
        (
            ("rollback", "users", "--revision", "9"),
            r"revision 9 is not in the release's history \(known: 1, 2, 3\)",
        ),
        (("rollback", "users", "--revision", "0"), "must be a positive revision number"),
        (("history", "traefik"), "release not found"),
    ],
)
def test_bad_arguments_are_one_line_usage_errors(fake, plan_file, argv, message):
    with pytest.raises(UsageError, match=message) as exc:
        _cli(fake, plan_file, *argv)
    assert exc.value.exit_code == 2 and "\n" not in str(exc.value)
    assert not any(call[0] == "rollback" for call in fake.calls)


def test_unreachable_cluster_is_a_kubernetes_error(plan_file):
    fake = FakeHelmCommand({}, unreachable=True)
    with pytest.raises(
        KubernetesError, match="helm status failed: Error: Kubernetes cluster unreachable"
    ) as exc:
        _cli(fake, plan_file, "status")
    assert exc.value.exit_code == 6


def test_verb_is_registered():
    assert "releases" in cli.build_parser().format_help()


def test_status_without_a_cluster_is_one_line_naming_the_fix(plan_file, tmp_path, monkeypatch, capsys):
    """Not helm's raw "Kubernetes cluster unreachable: ... localhost:8080" text: the kube check runs first."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("PLATFORMCTL_SITE", raising=False)
    monkeypatch.delenv("PLATFORMCTL_KUBE_CONTEXT", raising=False)
    assert cli.main(["releases", "status", "--releases", str(plan_file)]) == KubernetesError.exit_code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no kube context found" in err[0] and "make apply" in err[0]
    assert "localhost:8080" not in err[0]

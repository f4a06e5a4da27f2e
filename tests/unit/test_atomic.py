"""atomic.py on the real file system: single files replaced atomically with their mode, sets replaced
all-or-nothing (a failed rename puts the old files back, a process killed during the renames is completed
by the next run), every failed write a one-line ConfigError naming the file, the cause and the fix."""

from __future__ import annotations

import errno
import os
import signal
import stat
from pathlib import Path

import pytest
from platformctl.adapters import atomic
from platformctl.errors import ConfigError

OLD = {"a.yaml": b"old a\n", "b.yaml": b"old b\n", "c.yaml": b"old c\n"}
NEW = {"a.yaml": b"new a\n", "b.yaml": b"new b\n", "c.yaml": b"new c\n"}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    atomic.replace_all(tmp_path / "set", OLD)
    assert _files(tmp_path / "set") == OLD
    return tmp_path / "set"


def test_write_file_creates_with_its_mode_whatever_the_umask(tmp_path):
    target = tmp_path / "state" / "kubeconfig"
    previous = os.umask(0)
    try:
        atomic.write_file(target, b"one", mode=0o600)
        target.chmod(0o644)  # a wider file from an older version is replaced by a 0600 one
        atomic.write_file(target, b"two", mode=0o600)
    finally:
        os.umask(previous)
    assert target.read_bytes() == b"two" and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["kubeconfig"]
    assert atomic.unchanged(target, b"two", 0o600) and not atomic.unchanged(target, b"two", 0o644)


def test_a_process_killed_during_the_renames_is_completed_by_the_next_run(folder):
    """A forked child replaces the set and is SIGKILLed right after the first rename: a, then journal
    and partials of b and c are left; the next replace_all (or finish_interrupted) completes the new set."""
    pid = os.fork()
    if pid == 0:
        real_replace = os.replace

        def replace_then_die(src, dst, **kwargs) -> None:
            real_replace(src, dst, **kwargs)
            if str(dst).endswith("a.yaml"):
                os.kill(os.getpid(), signal.SIGKILL)

        os.replace = replace_then_die
        try:
            atomic.replace_all(folder, NEW)
        finally:
            os._exit(3)  # not reached: killed during the renames
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    left = _files(folder)
    assert left["a.yaml"] == NEW["a.yaml"] and left["b.yaml"] == OLD["b.yaml"]
    assert atomic.JOURNAL in left and ".b.yaml.partial" in left
    assert atomic.finish_interrupted(folder) == ["b.yaml", "c.yaml"]
    assert _files(folder) == NEW


def test_a_failed_rename_puts_the_old_files_back(folder, monkeypatch):
    real_replace = os.replace

    def replace(src, dst, **kwargs) -> None:
        if str(dst).endswith("b.yaml"):
            raise OSError(errno.EIO, "Input/output error")  # injected: a rename that fails mid-set
        real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(ConfigError) as caught:
        atomic.replace_all(folder, NEW)
    monkeypatch.setattr(os, "replace", real_replace)
    assert _files(folder) == OLD
    assert (
        str(caught.value) == f"cannot write {folder / 'b.yaml'}: input/output error; check {folder} and rerun"
    )


def test_stale_partials_of_a_run_killed_before_its_journal_are_removed(folder):
    (folder / ".a.yaml.partial").write_bytes(b"half")
    (folder / ".a.yaml.backup").write_bytes(b"old")
    atomic.replace_all(folder, {"c.yaml": b"newer c\n"})
    assert _files(folder) == {**OLD, "c.yaml": b"newer c\n"}


def test_a_path_through_a_file_is_a_config_error(tmp_path):
    (tmp_path / "plain").write_text("a file, not a folder")
    with pytest.raises(ConfigError) as caught:
        atomic.write_file(tmp_path / "plain" / "kubeconfig", b"x", mode=0o600)
    folder = tmp_path / "plain"
    assert str(caught.value) == (
        f"cannot write {folder / 'kubeconfig'}: its folder is a file, not a folder; remove or rename the "
        f"file {folder} and rerun"
    )

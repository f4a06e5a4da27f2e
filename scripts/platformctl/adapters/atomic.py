"""Every file platformctl writes goes through here: atomic replacement, sets replaced all-or-nothing, and
the one place where a failed write becomes a one-line ConfigError naming the file, the cause and the fix.

- `write_file`: one file. The content goes to `.<name>.partial` in the same folder (created with its final
  mode, fsynced), which is then renamed over the file: a reader sees the old file or the new one.
- `replace_all`: several files of one folder, all or none. Every file is written as a partial first (and
  each existing file is hard-linked to `.<name>.backup`, which also proves it can be replaced); then a
  journal naming the files is written, the partials are renamed over their files with SIGINT/SIGTERM held
  back, and the journal and backups are removed. A failure before the journal leaves the old set; a
  failure during the renames puts the backups back; a process killed during the renames leaves the
  journal, and the next `replace_all` or `finish_interrupted` on that folder completes the new set.
- `write_error` / `writing`: an OSError while writing -> ConfigError (exit 3), e.g.
  "cannot write values/generated/dev/users.yaml: read-only file system; ...".
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from platformctl.errors import ConfigError

JOURNAL = ".platformctl-replace.journal"
_HELD = {signal.SIGINT, signal.SIGTERM}

# errno -> (cause, fix); `{folder}` and `{path}` are filled in. Everything else: strerror and a generic fix.
_CAUSES: dict[int, tuple[str, str]] = {
    errno.EACCES: (
        "permission denied",
        "make {folder} writable for this user (`ls -ld {folder}`), or run from a checkout you own",
    ),
    errno.EPERM: (
        "operation not permitted",
        "the file or {folder} is immutable or append-only (`lsattr -d {path} {folder}`, then `chattr -i`) "
        "or owned by another user; fix that and rerun",
    ),
    errno.EROFS: (
        "read-only file system",
        "{folder} is on a file system mounted read-only; run from a writable checkout or remount it rw",
    ),
    errno.ENOSPC: (
        "no space left on device",
        "free space on the file system of {folder} (`df -h {folder}`) and rerun",
    ),
    errno.EDQUOT: (
        "disk quota exceeded",
        "free space within your quota on the file system of {folder} (`quota -s`) and rerun",
    ),
    errno.EISDIR: ("it is a directory", "remove or rename the directory {path} and rerun"),
    errno.EEXIST: (
        "its folder is a file, not a folder",
        "remove or rename the file {folder} and rerun",
    ),
    errno.ENOTDIR: (
        "a parent of it is a file, not a folder",
        "remove or rename that file on the way to {folder} and rerun",
    ),
}


def write_error(path: Path, exc: OSError) -> ConfigError:
    """The one-line ConfigError for a failed write of `path` (the file platformctl meant to write)."""
    generic = ((exc.strerror or type(exc).__name__).lower(), "check {folder} and rerun")
    cause, fix = _CAUSES.get(exc.errno or 0, generic)
    return ConfigError(f"cannot write {path}: {cause}; " + fix.format(folder=path.parent, path=path))


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OSError inside the block into `write_error(path, ...)` (for writes that need no atomicity)."""
    try:
        yield
    except OSError as exc:
        raise write_error(path, exc) from None


def _discard(path: Path) -> None:
    """Remove a partial or backup while cleaning up after a failure (which must not hide that failure)."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def _backup(path: Path) -> Path:
    return path.with_name(f".{path.name}.backup")


def _write_partial(path: Path, content: bytes, mode: int) -> Path:
    """`content` in `.<name>.partial`, created with `mode` (never wider, whatever the umask) and fsynced."""
    partial = _partial(path)
    partial.unlink(missing_ok=True)  # a stale one (a killed run) may have another mode or owner
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(partial, flags, mode)
    try:
        try:
            os.fchmod(descriptor, mode)
            view = memoryview(content)
            while view:
                view = view[os.write(descriptor, view) :]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except BaseException:
        _discard(partial)
        raise
    return partial


def _sync_folder(folder: Path) -> None:
    """Make the renames in `folder` durable (best effort: not every platform can fsync a directory)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def write_file(path: Path, content: bytes, mode: int = 0o644) -> None:
    """Replace `path` atomically with `content` (permissions `mode`); a failure is a ConfigError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = _write_partial(path, content, mode)
        try:
            os.replace(partial, path)
        except BaseException:
            _discard(partial)
            raise
        _sync_folder(path.parent)
    except OSError as exc:
        raise write_error(path, exc) from None


def unchanged(path: Path, content: bytes, mode: int = 0o644) -> bool:
    """True when `path` already holds `content` with permissions `mode` (nothing to write)."""
    try:
        return stat.S_IMODE(path.stat().st_mode) == mode and path.read_bytes() == content
    except OSError:
        return False


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back until the block ends, then deliver the first one to its usual handler
    (Ctrl-C: KeyboardInterrupt). Python runs signal handlers in the main thread only, so that is where
    they are swapped; a block in another thread is not interrupted by them anyway."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {sig: handler for sig in _HELD if (handler := signal.getsignal(sig)) is not None}
    for sig in previous:
        signal.signal(sig, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            signal.raise_signal(caught[0])


def _journal_names(folder: Path) -> list[str]:
    try:
        text = (folder / JOURNAL).read_text()
    except FileNotFoundError:
        return []
    return [name for name in text.splitlines() if name and "/" not in name and not name.startswith(".")]


def finish_interrupted(folder: Path) -> list[str]:
    """Complete a `replace_all` of `folder` that was killed during its renames (its journal is there):
    the remaining partials replace their files. Without a journal, stale partials and backups of a run
    killed earlier are removed (the old set stands). Returns the names completed."""
    try:
        names = _journal_names(folder)
        completed = []
        for name in names:
            partial = _partial(folder / name)
            if partial.exists():
                os.replace(partial, folder / name)
                completed.append(name)
        if names:
            _sync_folder(folder)
            (folder / JOURNAL).unlink()
        if folder.is_dir():
            for stale in [*folder.glob(".*.partial"), *folder.glob(".*.backup")]:
                stale.unlink(missing_ok=True)
        return completed
    except OSError as exc:
        raise write_error(folder / JOURNAL, exc) from None


def _prepare(folder: Path, files: Mapping[str, bytes], mode: int) -> None:
    """Partials of every file and backups (hard links) of the existing ones; on failure, none is left."""
    current = ""
    try:
        for name, content in files.items():
            current = name
            target = folder / name
            _write_partial(target, content, mode)
            if target.exists():
                _backup(target).unlink(missing_ok=True)
                os.link(target, _backup(target))  # fails on an immutable file: found before any rename
    except BaseException as exc:
        for name in files:
            _discard(_partial(folder / name))
            _discard(_backup(folder / name))
        if isinstance(exc, OSError):
            raise write_error(folder / current, exc) from None
        raise


def _rename_all(folder: Path, names: list[str]) -> None:
    """Partials over their files; on a failure, the files already replaced get their backups back."""
    done: list[str] = []
    current = ""
    try:
        for name in names:
            current = name
            os.replace(_partial(folder / name), folder / name)
            done.append(name)
    except OSError as exc:
        with contextlib.suppress(OSError, ConfigError):  # a second failure must not hide the first
            for name in reversed(done):
                target = folder / name
                if _backup(target).exists():
                    os.replace(_backup(target), target)
                else:
                    target.unlink(missing_ok=True)
            (folder / JOURNAL).unlink(missing_ok=True)
            finish_interrupted(folder)  # no journal now: removes the remaining partials and backups
        raise write_error(folder / current, exc) from None


def replace_all(folder: Path, files: Mapping[str, bytes], mode: int = 0o644) -> None:
    """Replace the files `files` names (name -> content) in `folder` all-or-nothing (see the module doc)."""
    if any("/" in name or name.startswith(".") for name in files):
        raise ValueError("replace_all takes plain file names of one folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(folder / next(iter(files), ""), exc) from None
    finish_interrupted(folder)
    if not files:
        return
    names = sorted(files)
    _prepare(folder, files, mode)
    with _signals_held():
        try:
            write_file(folder / JOURNAL, "".join(f"{name}\n" for name in names).encode(), 0o644)
        except BaseException:
            finish_interrupted(folder)  # no journal: the old set stands, partials and backups go
            raise
        _rename_all(folder, names)
        _sync_folder(folder)
        finish_interrupted(folder)  # every partial is renamed by now: removes the journal and backups

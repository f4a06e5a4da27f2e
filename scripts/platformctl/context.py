"""What every verb gets: the environment, the global flags and a way to report progress."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Context:
    env: str = "dev"
    verbose: bool = False
    dry_run: bool = False
    # Looked up when a Context is made, not at import, so pytest's capture and redirections apply.
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def say(self, message: str) -> None:
        """A line of normal output (tables, results)."""
        print(message, file=self.out, flush=True)

    def progress(self, message: str) -> None:
        """A progress line; goes to stderr so stdout stays machine-readable."""
        print(f"==> {message}", file=self.err, flush=True)

    def debug(self, message: str) -> None:
        if self.verbose:
            print(f"    {message}", file=self.err, flush=True)

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """Announce a step and, when it took longer than a second, how long it took."""
        self.progress(title + (" (dry run)" if self.dry_run else ""))
        started = time.monotonic()
        yield
        elapsed = time.monotonic() - started
        if elapsed >= 1:
            self.progress(f"{title}: done in {elapsed:.1f}s")


def render_table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain aligned text table (no colours, so it survives CI logs and pipes)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
        for row in [headers, ["-" * w for w in widths], *rows]
    ]
    return "\n".join(lines)

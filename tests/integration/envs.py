"""Tests that seed Vault under a throwaway env name let the CLI accept that name for their run."""

from __future__ import annotations

import pytest
from platformctl.config import environments


def allow_env(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """`--env name` passes the CLI's check (environments.yaml is not changed)."""
    known = environments.names()
    monkeypatch.setattr(environments, "names", lambda: (*known, name))

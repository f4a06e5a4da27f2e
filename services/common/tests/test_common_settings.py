"""The settings base: common fields from the service's environment prefix, secrets from mounted files."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict
from service_common.settings import ServiceSettings, SettingsError, WorkerSettings


class DemoSettings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore")

    token_file: Path | None = None


def test_common_fields_come_from_the_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_PORT", "9090")
    monkeypatch.setenv("DEMO_SHUTDOWN_GRACE_SECONDS", "5")
    monkeypatch.setenv("DEMO_WORKERS", "3")
    monkeypatch.setenv("PORT", "1")  # unprefixed: not ours
    settings = DemoSettings()
    assert (settings.port, settings.shutdown_grace_seconds, settings.workers, settings.log_level) == (
        9090,
        5,
        3,
        "INFO",
    )
    assert settings.uvicorn_options() == {"proxy_headers": False}


def test_out_of_range_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_PORT", "70000")
    with pytest.raises(ValidationError, match="port"):
        DemoSettings()


def test_secret_file_is_read_without_the_trailing_newline(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cr3t value\n")
    assert DemoSettings(token_file=tmp_path / "token").secret("token") == "s3cr3t value"


def test_unreadable_secret_names_the_setting_and_the_path(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        DemoSettings(token_file=tmp_path / "absent").secret("token")
    assert (
        str(caught.value) == f"DEMO_TOKEN_FILE: cannot read {tmp_path / 'absent'}: No such file or directory"
    )


def test_unset_secret_path_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match=r"^DEMO_TOKEN_FILE: not set$"):
        DemoSettings().secret("token")


def test_base_without_workers_ignores_a_workers_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    class Single(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="SINGLE_", extra="ignore")

    monkeypatch.setenv("SINGLE_WORKERS", "4")
    assert not hasattr(Single(), "workers")

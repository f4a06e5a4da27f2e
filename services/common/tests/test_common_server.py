"""The shared start-up as a real process: one clear error line for bad settings, graceful SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.fixtures.servers import wait_until

HERE = Path(__file__).resolve().parent
ENV = {"PYTHONPATH": str(HERE)}


def run_demo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **ENV, **env}
    return subprocess.run(
        [sys.executable, "-m", "demo_service"], env=full_env, capture_output=True, text=True, timeout=60
    )


def only_line(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and not result.stderr, result.stdout + result.stderr
    return dict(json.loads(lines[0]))


def test_invalid_setting_is_one_line_naming_it_without_the_value() -> None:
    result = run_demo({"DEMO_PORT": "port-value-xyz"})
    assert result.returncode == 2
    line = only_line(result)
    assert line["level"] == "ERROR" and line["logger"] == "demo"
    assert "DEMO_PORT" in line["msg"] and "port-value-xyz" not in result.stdout


def test_unreadable_secret_file_is_one_line_and_no_server(tmp_path: Path) -> None:
    result = run_demo({"DEMO_TOKEN_FILE": str(tmp_path / "absent")})
    assert result.returncode == 2
    assert (
        only_line(result)["msg"]
        == f"DEMO_TOKEN_FILE: cannot read {tmp_path / 'absent'}: No such file or directory"
    )


@pytest.mark.slow
def test_sigterm_lets_the_request_in_flight_finish(start_service) -> None:
    service = start_service("demo_service", ENV)
    result: dict[str, httpx.Response] = {}
    worker = threading.Thread(
        target=lambda: result.update(response=httpx.get(f"{service.url}/slow", timeout=30))
    )
    worker.start()
    wait_until(lambda: "slow request started" in service.log(), 10, "request in flight")
    service.proc.send_signal(signal.SIGTERM)
    worker.join(timeout=30)
    assert result["response"].status_code == 200 and result["response"].json() == {"status": "done"}
    # uvicorn re-raises the captured SIGTERM once it has shut down cleanly.
    assert service.proc.wait(timeout=30) in (0, -signal.SIGTERM)
    log = service.log()
    marks = (
        '"msg": "Shutting down"',
        '"route": "/slow"',
        '"msg": "lifespan shutdown"',
        "Finished server process",
    )
    order = [log.index(mark) for mark in marks]
    assert order == sorted(order)

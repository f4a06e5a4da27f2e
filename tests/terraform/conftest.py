"""Fixtures of the Terraform suite (see tfkit.py for the helpers)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from platformctl.tools import ToolNotFound, find_tool

from tests.fixtures.servers import free_port, wait_until
from tests.terraform.tfkit import provider_mirror, terraform_bin


@pytest.fixture(scope="session", autouse=True)
def _terraform_on_path() -> None:
    try:
        terraform_bin()
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def aws_mirror() -> Path:
    """The filesystem mirror holding hashicorp/aws (TF_PROVIDER_MIRROR or found by scanning /)."""
    mirror = provider_mirror()
    if mirror is None:
        pytest.fail(
            "no Terraform provider mirror with hashicorp/aws found: set TF_PROVIDER_MIRROR to the folder "
            "that contains <registry host>/hashicorp/aws"
        )
    return mirror


@dataclass(frozen=True)
class SseS3Server:
    endpoint: str
    access_key: str
    secret_key: str
    region: str


def _listening(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(endpoint, timeout=1):  # noqa: S310 (loopback URL built here)
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def sse_s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SseS3Server]:
    """A SeaweedFS S3 gateway like the shared `s3_server`, but with SSE-S3 enabled (WEED_S3_SSE_KEY),
    which the backend's `encrypt = true` needs; the shared server runs without an SSE key."""
    try:
        weed = str(find_tool("weed"))
    except ToolNotFound as exc:
        pytest.fail(f"{exc} (run `make setup`)")
    workdir = tmp_path_factory.mktemp("seaweedfs-sse")
    access_key, secret_key = "tf-" + secrets.token_hex(6), secrets.token_urlsafe(24)
    config = workdir / "s3.json"
    identity = {
        "name": "admin",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    ports = {
        f"-{name}.port{grpc}": free_port()
        for name in ("master", "volume", "filer", "s3")
        for grpc in ("", ".grpc")
    }
    args = [
        weed,
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={workdir}",
        *(f"{flag}={port}" for flag, port in ports.items()),
        "-s3",
        f"-s3.config={config}",
        "-iam=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        "-volume.max=0",
        "-master.volumeSizeLimitMB=64",
        f"-filer.localSocket={workdir}/f.sock",
        f"-s3.localSocket={workdir}/s.sock",
    ]
    env = {**os.environ, "WEED_S3_SSE_KEY": secrets.token_urlsafe(32)}
    with (workdir / "weed.log").open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env)
        endpoint = f"http://127.0.0.1:{ports['-s3.port']}"
        try:
            wait_until(lambda: _listening(endpoint), 60, "SeaweedFS S3 gateway (SSE)")
            yield SseS3Server(endpoint, access_key, secret_key, "us-east-1")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

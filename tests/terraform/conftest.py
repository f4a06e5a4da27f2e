"""Fixtures of the Terraform suite (see tfkit.py for the helpers)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.servers import S3Server, seaweedfs
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


@pytest.fixture(scope="session")
def sse_s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A SeaweedFS S3 gateway like the shared `s3_server`, but with SSE-S3 enabled, which the backend's
    `encrypt = true` needs; the shared server runs without an SSE key."""
    with seaweedfs(
        tmp_path_factory.mktemp("seaweedfs-sse"), sse_key=secrets.token_urlsafe(32), prefix="tf-"
    ) as s3:
        yield s3

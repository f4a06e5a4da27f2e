"""Checks across the three services: committed OpenAPI matches each app; images are pinned and locked."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from services.openapi_export import SERVICES, spec

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("name", SERVICES)
def test_committed_openapi_matches_the_app(name: str) -> None:
    committed = yaml.safe_load((HERE / name / "openapi.yaml").read_text())
    assert committed == spec(name), f"run `.venv/bin/python services/openapi_export.py` for {name}"


def test_dockerfile_base_image_is_the_pinned_one() -> None:
    """One Dockerfile for the three services (SERVICE=<name>); none of them has one of its own."""
    versions = yaml.safe_load((HERE.parent / "versions.yaml").read_text())
    base = versions["images"]["python-base"]
    assert not [name for name in SERVICES if (HERE / name / "Dockerfile").exists()]
    dockerfile = (HERE / "Dockerfile").read_text()
    assert f"ARG PYTHON_BASE={base['repository']}:{base['tag']}\n" in dockerfile
    assert dockerfile.count("FROM ${PYTHON_BASE}") == 2  # multi-stage, both stages on the pinned base
    assert "USER 1000:1000" in dockerfile and "EXPOSE 8080" in dockerfile and "HEALTHCHECK" not in dockerfile
    assert "COPY common/service_common ./common/service_common" in dockerfile  # context is services/


def _norm(package: str) -> str:
    return re.sub(r"[-_.]+", "-", package.split("[")[0]).lower()


def _locked(name: str) -> dict[str, str]:
    lines = (HERE / name / "constraints.txt").read_text().splitlines()
    pins = (line.split("==") for line in lines if line and not line.startswith("#"))
    return {_norm(package): version for package, version in pins}


@pytest.mark.parametrize("name", SERVICES)
def test_image_constraints_agree_with_pyproject(name: str) -> None:
    locked = _locked(name)
    project = tomllib.loads((HERE / name / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        package, version = requirement.split("==")
        assert locked[_norm(package)] == version, requirement


def test_common_pins_equal_each_service_lock() -> None:
    """The shared library is installed into every image under the service's constraints.txt."""
    common = tomllib.loads((HERE / "common" / "pyproject.toml").read_text())["project"]["dependencies"]
    for name in SERVICES:
        locked = _locked(name)
        for requirement in common:
            package, version = requirement.split("==")
            assert locked[_norm(package)] == version, f"{name}: {requirement}"

"""A chart whose files change must get a new version, or helm and the Terraform helm provider would not
roll the change out (they compare chart versions and values, not templates). charts/chart-lock.yaml keeps
each chart's version and content digest (platformctl.app.chartlock)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from platformctl.app import chartlock
from platformctl.config.paths import repo_root


def test_the_repository_lock_matches_every_chart():
    assert chartlock.problems(repo_root()) == []


@pytest.fixture
def copy(tmp_path) -> Path:
    shutil.copytree(repo_root() / "charts", tmp_path / "charts")
    return tmp_path


def test_a_template_change_without_a_version_bump_fails_and_is_not_locked(copy):
    template = copy / "charts" / "microservice" / "templates" / "service.yaml"
    template.write_text(template.read_text() + "# changed\n")
    assert any("charts/microservice changed but its version is still" in p for p in chartlock.problems(copy))
    assert chartlock.write(copy)  # refused
    assert chartlock.problems(copy)


def test_a_bumped_version_can_be_locked(copy):
    chart = copy / "charts" / "microservice"
    (chart / "templates" / "service.yaml").write_text("# changed\n")
    version = chartlock.version(chart)
    (chart / "Chart.yaml").write_text(
        (chart / "Chart.yaml").read_text().replace(f"version: {version}", f"version: {version}-bumped")
    )
    assert any("out of date" in p for p in chartlock.problems(copy))
    assert chartlock.write(copy) == []
    assert chartlock.problems(copy) == []


def test_readme_changes_need_no_bump(copy):
    (copy / "charts" / "minio" / "README.md").write_text("new words\n")
    assert chartlock.problems(copy) == []

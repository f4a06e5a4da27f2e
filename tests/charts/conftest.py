"""Session-wide renders shared by the chart tests (rendered once, in parallel)."""

from __future__ import annotations

import pytest
from platformctl.app import release_plan
from platformctl.config.release import Release

from tools.charts import render


@pytest.fixture(scope="session")
def rendered() -> dict[tuple[str, str], list[dict]]:
    """Every release x env, with the CRD APIs of wave 0 available."""
    return render.render_many(render.all_jobs())


@pytest.fixture(scope="session")
def rendered_harness() -> dict[tuple[str, str], list[dict]]:
    """Every release x env rendered for the 1.20 test harness."""
    return render.render_many(render.all_jobs(), kube_version=render.versions()["kubernetes"]["harness"])


@pytest.fixture(scope="session")
def all_objects(rendered: dict[tuple[str, str], list[dict]]) -> list[tuple[str, str, dict]]:
    return [(rel, env, obj) for (rel, env), objs in rendered.items() for obj in objs]


@pytest.fixture(scope="session")
def env_plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Release]]:
    """Every env's release plan from the real release-plan stack (the capacity and alerting models)."""
    return release_plan.every_env(tmp_path_factory.mktemp("release-plans"))

"""Helper tests of the e2e driver (no cluster needed). The run itself is `make e2e` (tools/e2e/driver.py),
which needs the harness; it is not a pytest test so that its output streams as the make targets run.
"""

from __future__ import annotations

import yaml
from platformctl.config import site, versions
from platformctl.config.paths import repo_root

from tools.e2e import driver, images

ROOT = repo_root()


def test_stand_in_images_never_use_official_names():
    tags = [b.tag for b in images.plan_builds(versions.load())]
    assert sorted(t.split(":")[0] for t in tags) == ["e2e/postgresql", "e2e/rabbitmq", "e2e/seaweedfs"]
    assert all(not t.endswith(":latest") for t in tags)


def test_the_overlay_uses_the_stand_ins_and_never_pulls():
    profile = site.load({site.ENV_VAR: driver.SITE})
    overlay = profile.overlay_dir(ROOT)
    assert overlay is not None
    for release in ("postgresql", "rabbitmq"):
        image = yaml.safe_load((overlay / f"{release}.yaml").read_text())["image"]
        assert f"{image['repository']}:{image['tag']}" == images.e2e_image(release)
        assert image["pullPolicy"] == "Never"
    for release in ("users", "auth", "notifications"):
        image = yaml.safe_load((overlay / f"{release}.yaml").read_text())["image"]
        assert set(image) == {"pullPolicy"}  # repository and tag stay apply's content tags


def test_every_skipped_release_is_planned_and_explained():
    profile = site.load({site.ENV_VAR: driver.SITE})
    catalog = (ROOT / "terraform" / "modules" / "release-plan" / "main.tf").read_text()
    for name, reason in profile.skip_releases.items():
        assert f'name = "{name}"' in catalog, name
        assert len(reason) > 20


def test_a_second_run_on_the_same_cluster_waits_for_the_first(tmp_path):
    """Two runs on one cluster overwrite each other's Secrets and delete each other's namespaces."""
    import subprocess
    import sys

    import pytest

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\n")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl,os,sys,time; h=os.open(sys.argv[1],os.O_RDONLY); "
            "fcntl.flock(h,fcntl.LOCK_EX); print('held',flush=True); time.sleep(30)",
            str(kubeconfig),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(driver.E2EError, match="another e2e run holds"):
            driver.exclusive(kubeconfig, wait=1.0)
    finally:
        holder.kill()
        holder.wait()
    handle = driver.exclusive(kubeconfig, wait=1.0)  # free again once the first run ends
    assert handle >= 0

"""Service image tags by content: the same tree gives the same tag, any change to what the image is built
from gives a new one; and the kind delivery names images the way containerd does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from platformctl.app import images
from platformctl.config import versions
from platformctl.config.paths import repo_root

BASE = "python:3.11-slim-bookworm"


@pytest.fixture
def services(tmp_path) -> Path:
    target = tmp_path / "services"
    shutil.copytree(
        repo_root() / "services", target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    return target


def test_planned_tags_are_version_plus_content(services):
    planned = images.planned(services.parent, versions.load())
    assert [i.name for i in planned] == ["users", "auth", "notifications", "pgbackup"]
    for image in planned:
        version, digest = image.tag.rsplit("-", 1)
        assert version == versions.load().images[image.name].tag and len(digest) == 12
        own = services / image.name / "Dockerfile"
        assert image.dockerfile == (own if image.name == "pgbackup" else services / "Dockerfile")
    again = images.planned(services.parent, versions.load())
    assert [i.tag for i in again] == [i.tag for i in planned]


@pytest.mark.parametrize(
    ("changed", "affects"),
    [
        ("users/users_service/app.py", {"users"}),
        ("users/constraints.txt", {"users"}),
        ("common/service_common/http.py", {"users", "auth", "notifications"}),
        ("Dockerfile", {"users", "auth", "notifications"}),
    ],
    ids=["source", "lock-file", "shared-library", "dockerfile"],
)
def test_a_change_gives_a_new_tag_only_where_it_is_built_in(services, changed, affects):
    before = {name: images.content_digest(services, name, BASE) for name in images.SERVICES}
    with (services / changed).open("a") as handle:
        handle.write("\n# changed\n")
    after = {name: images.content_digest(services, name, BASE) for name in images.SERVICES}
    assert {name for name in images.SERVICES if before[name] != after[name]} == affects


def test_backup_image_is_built_on_the_database_image(services):
    """pgbackup's base is the image the postgresql release runs (a site's stand-in too): pg_dump must be
    the server's major version; its tag follows that image and its own folder, not services/common."""
    pins = versions.load()
    default = {i.name: i for i in images.planned(services.parent, pins)}["pgbackup"]
    assert default.build_args == (("POSTGRES_IMAGE", pins.images["postgresql"].reference),)
    assert default.tag.startswith(f"{pins.images['pgbackup'].tag}-")
    stand_in = {i.name: i for i in images.planned(services.parent, pins, None, "e2e/postgresql:debian-15")}
    assert stand_in["pgbackup"].build_args == (("POSTGRES_IMAGE", "e2e/postgresql:debian-15"),)
    assert stand_in["pgbackup"].tag != default.tag and stand_in["users"].tag == default_users(services)
    before = images.content_digest(services, "pgbackup", "x")
    (services / "common" / "service_common" / "http.py").write_text("# changed\n", encoding="utf-8")
    assert images.content_digest(services, "pgbackup", "x") == before
    with (services / "pgbackup" / "pgbackup.py").open("a") as handle:
        handle.write("\n# changed\n")
    assert images.content_digest(services, "pgbackup", "x") != before


def default_users(services: Path) -> str:
    return {i.name: i for i in images.planned(services.parent, versions.load())}["users"].tag


def test_tests_and_caches_do_not_change_the_tag(services):
    before = images.content_digest(services, "users", BASE)
    (services / "users" / "tests" / "test_new.py").write_text("def test_x(): pass\n")
    (services / "users" / "users_service" / "__pycache__").mkdir(exist_ok=True)
    (services / "users" / "users_service" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"x")
    assert images.content_digest(services, "users", BASE) == before
    assert images.content_digest(services, "users", "python:3.12-slim") != before


def test_registry_prefix():
    planned = images.planned(repo_root(), versions.load(), "123.dkr.ecr.eu-west-1.amazonaws.com/")
    assert planned[0].repository == "123.dkr.ecr.eu-west-1.amazonaws.com/platform/users"


@pytest.mark.parametrize(
    ("listed", "ref", "same"),
    [
        ("example.org/platform/users:1", "platform/users:1", True),  # a short name, under the default domain
        ("example.org/library/busybox:1.35", "busybox:1.35", True),
        ("example.org/platform/users:2", "platform/users:1", False),
        ("example.org/other/users:1", "platform/users:1", False),
        ("platform/users:1", "platform/users:1", True),
        (
            "123.dkr.ecr.eu-west-1.amazonaws.com/platform/users:1",
            "123.dkr.ecr.eu-west-1.amazonaws.com/platform/users:1",
            True,
        ),
        (
            "example.org/123.dkr.ecr.eu-west-1.amazonaws.com/platform/users:1",
            "123.dkr.ecr.eu-west-1.amazonaws.com/platform/users:1",
            False,
        ),
        ("localhost:5000/x:1", "localhost:5000/x:1", True),
        ("example.org/localhost:5000/x:1", "localhost:5000/x:1", False),
    ],
)
def test_kind_node_image_names(listed, ref, same):
    """containerd lists short Docker references under the default registry's domain."""
    assert images.same_image(listed, ref) is same

"""`values`: merge, generated checksums/images, schema validation, deterministic atomic writes, no secret."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from platformctl import release_plan, values, versions
from platformctl.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"
VERSIONS = Path(__file__).parents[2] / "versions.yaml"


def _images() -> dict[str, dict[str, str]]:
    """The repository's pinned images from versions.yaml."""
    return values.pinned_images(versions.load(VERSIONS))


@pytest.fixture
def root(tmp_path) -> Path:
    shutil.copytree(FIXTURES / "valuesroot", tmp_path / "repo")
    return tmp_path / "repo"


@pytest.fixture
def releases():
    return release_plan.from_file(FIXTURES / "releases.json")


def _run(seeded, smap, releases, root, dry_run=False):
    entries = seeded.read_many(values.needed_paths(smap, releases))
    return values.run(releases, smap, entries, _images(), root, dry_run)


def _all_secret_values(vault, smap) -> list[str]:
    return [v for e in vault.read_many(smap.vault).values() for v in e.data.values() if len(v) > 16]


def test_generated_files_hold_checksums_and_images_but_no_secret(seeded, smap, releases, root):
    results = _run(seeded, smap, releases, root)
    assert [(name, changed) for name, _, changed in results] == [
        ("traefik", True),
        ("users", True),
        ("auth", True),
    ]
    users = yaml.safe_load((root / "values/generated/dev/users.yaml").read_text())
    pinned = _images()["users"]
    assert users["image"] == {"repository": pinned["repository"], "tag": pinned["tag"]}
    assert len(users["secretChecksum"]) == 64
    assert yaml.safe_load((root / "values/generated/dev/traefik.yaml").read_text()) == {}
    auth = yaml.safe_load((root / "values/generated/dev/auth.yaml").read_text())
    assert auth["secretChecksum"] != users["secretChecksum"]
    text = "".join(p.read_text() for p in (root / "values/generated/dev").iterdir())
    for value in _all_secret_values(seeded, smap):
        assert value not in text


def test_rerun_is_byte_identical_and_writes_nothing(seeded, smap, releases, root):
    _run(seeded, smap, releases, root)
    files = sorted((root / "values/generated/dev").iterdir())
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    results = _run(seeded, smap, releases, root)
    assert not any(changed for _, _, changed in results)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files} == before
    assert sorted((root / "values/generated/dev").iterdir()) == files  # no temp file left behind


def test_new_secret_version_changes_only_consumers_checksum(seeded, smap, releases, root):
    _run(seeded, smap, releases, root)
    users_before = (root / "values/generated/dev/users.yaml").read_bytes()
    rabbit = seeded.read("rabbitmq")
    seeded.write("rabbitmq", rabbit.data)  # same data, new version: auth must roll, users not
    changed = {name for name, _, c in _run(seeded, smap, releases, root) if c}
    assert changed == {"auth"}
    assert (root / "values/generated/dev/users.yaml").read_bytes() == users_before


def test_schema_failure_names_file_and_key_and_writes_nothing(seeded, smap, releases, root):
    (root / "values/dev/users.yaml").write_text("replicaCount: two\n")
    with pytest.raises(
        ConfigError,
        match=r"values/dev/users.yaml: key `replicaCount` fails "
        r"charts/demo/values.schema.json: 'two' is not of type 'integer'",
    ):
        _run(seeded, smap, releases, root)
    assert not (root / "values/generated").exists()


def test_unknown_key_blames_the_merge(seeded, smap, releases, root):
    (root / "values/common/auth.yaml").write_text("replicaCount: 1\nreplicas: 3\n")
    with pytest.raises(ConfigError, match=r"Additional properties are not allowed \('replicas' was"):
        _run(seeded, smap, releases, root)


def test_dry_run_writes_nothing(seeded, smap, releases, root):
    results = _run(seeded, smap, releases, root, dry_run=True)
    assert all(changed for _, _, changed in results)
    assert not (root / "values/generated").exists()


def test_bad_release_list_is_config_error(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text('[{"name": "x"}]')
    with pytest.raises(ConfigError, match="release plan is not a list"):
        release_plan.from_file(bad)
    bad.write_text("not json")
    with pytest.raises(ConfigError, match="is not JSON"):
        release_plan.from_file(bad)


def test_merge_is_deep_and_later_wins():
    merged = values.merge({"a": {"b": 1, "c": [1, 2]}, "d": 1}, {"a": {"c": [3]}, "d": {"e": 2}})
    assert merged == {"a": {"b": 1, "c": [3]}, "d": {"e": 2}}


def test_a_user_pinned_image_is_kept(seeded, smap, releases, root):
    """A values file the user wrote that pins `image.tag` (a prebuilt image) wins over the built tag."""
    (root / "values/dev/users.yaml").write_text("image: {repository: registry.example/users, tag: '7.7.7'}\n")
    _run(seeded, smap, releases, root)
    users = yaml.safe_load((root / "values/generated/dev/users.yaml").read_text())
    assert "image" not in users and len(users["secretChecksum"]) == 64
    auth = yaml.safe_load((root / "values/generated/dev/auth.yaml").read_text())
    assert auth["image"]["tag"] == _images()["auth"]["tag"]


def test_bootstrap_only_secrets_do_not_roll_their_consumer(seeded, smap, releases, root):
    """postgresql-credentials is `rollout: false`: a new version of it leaves postgresql's checksum alone."""
    plan = [
        values.Release(
            "postgresql",
            "data",
            "charts/demo",
            (
                "values/common/postgresql.yaml",
                "values/dev/postgresql.yaml",
                "values/generated/dev/postgresql.yaml",
            ),
        )
    ]
    entries = seeded.read_many(values.needed_paths(smap, [*releases, *plan]))
    before = values.generated(plan[0], smap, entries, {})
    seeded.write("postgresql", {**seeded.read("postgresql").data, "users-password": "changed-" + "x" * 20})
    entries = seeded.read_many(values.needed_paths(smap, [*releases, *plan]))
    assert values.generated(plan[0], smap, entries, {}) == before
    assert "secretChecksum" in before  # still there: the chart's schema requires it

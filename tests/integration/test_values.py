"""`values`: merge, generated checksums/images, schema validation, deterministic atomic writes, no secret."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
import yaml
from platformctl.app import release_plan, values
from platformctl.config import release, versions
from platformctl.errors import ConfigError

from tests.fixtures.filesystems import (
    as_unprivileged,
    fill,
    immutable,
    remount_read_only,
    shared_folder,
    tmpfs,
)

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
    auth_before = (root / "values/generated/dev/auth.yaml").read_bytes()
    rabbit = seeded.read("rabbitmq")
    # same data, new version: users (the login event relay) must roll, auth (no broker since ADR 0007) not
    seeded.write("rabbitmq", rabbit.data)
    changed = {name for name, _, c in _run(seeded, smap, releases, root) if c}
    assert changed == {"users"}
    assert (root / "values/generated/dev/auth.yaml").read_bytes() == auth_before


def test_schema_failure_names_file_and_key_and_writes_nothing(seeded, smap, releases, root):
    (root / "values/dev/users.yaml").write_text("replicaCount: two\n")
    with pytest.raises(
        ConfigError,
        match=r"values/dev/users.yaml: key `replicaCount` fails "
        r"charts/demo/values.schema.json: 'two' is not of type 'integer'",
    ):
        _run(seeded, smap, releases, root)
    assert not (root / "values/generated").exists()


def test_an_unknown_key_names_the_file_the_user_wrote_not_the_generated_one(seeded, smap, releases, root):
    """Before, an unknown top-level key was reported against values/generated/dev/<release>.yaml, the file
    marked "do not edit" (the last layer that has the key's parent)."""
    (root / "values/dev/users.yaml").write_text("replicaCount: 2\nreplicas: 3\n")
    with pytest.raises(ConfigError) as caught:
        _run(seeded, smap, releases, root)
    assert str(caught.value) == (
        "values/dev/users.yaml: key `replicas` fails charts/demo/values.schema.json: Additional properties "
        "are not allowed ('replicas' was unexpected); remove or rename `replicas` in values/dev/users.yaml"
    )
    # nested, under a map the generated file sets too (image), and in the common file
    (root / "values/dev/users.yaml").write_text("image: {pullPolicy: Always}\n")
    nested = (
        r"^values/dev/users.yaml: key `image.pullPolicy` fails .*; remove or rename `image.pullPolicy` in"
    )
    with pytest.raises(ConfigError, match=nested):
        _run(seeded, smap, releases, root)
    (root / "values/dev/users.yaml").write_text("{}\n")
    (root / "values/common/auth.yaml").write_text("replicaCount: 1\nreplicas: 3\n")
    with pytest.raises(ConfigError, match=r"^values/common/auth.yaml: key `replicas` fails"):
        _run(seeded, smap, releases, root)
    assert not (root / "values/generated").exists()


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
        release.Release(
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


# --- the generated set is replaced all-or-nothing; a failed write: ConfigError naming file, cause, fix ---

CHANGING = ("users", "auth")  # the releases whose generated file holds an image tag (traefik's is `{}`)


def _tagged(tag: str) -> dict[str, dict[str, str]]:
    images = _images()
    return {**images, **{name: {**images[name], "tag": tag} for name in CHANGING}}


def _tags(root: Path) -> dict[str, str]:
    folder = root / "values/generated/dev"
    return {n: yaml.safe_load((folder / f"{n}.yaml").read_text())["image"]["tag"] for n in CHANGING}


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of the folder, hidden ones (partials, backups, journal) included."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _generate(seeded, smap, releases, root, tag: str):
    entries = seeded.read_many(values.needed_paths(smap, releases))
    return values.run(releases, smap, entries, _tagged(tag), root)


@pytest.mark.parametrize("when", ["error while writing", "Ctrl-C while renaming"])
def test_an_interruption_after_the_first_file_leaves_the_set_all_old_or_all_new(
    seeded, smap, releases, root, monkeypatch, when
):
    """Two files change (users, auth); the run is interrupted once the first is done. Before, each file was
    replaced on its own: users new, auth old. Now: an error before the renames leaves every file old, and a
    real SIGINT during the renames waits until the set is complete."""
    _generate(seeded, smap, releases, root, "old-1")
    real_fsync, real_replace = os.fsync, os.replace
    fsyncs = renames = 0

    def fsync(descriptor: int) -> None:
        nonlocal fsyncs
        fsyncs += 1
        if when == "error while writing" and fsyncs == 2:  # the first file is written, the second not
            raise KeyboardInterrupt
        real_fsync(descriptor)

    def replace(src, dst, **kwargs) -> None:
        nonlocal renames
        real_replace(src, dst, **kwargs)
        renames += str(dst).endswith(".yaml")
        if when == "Ctrl-C while renaming" and renames == 1 and str(dst).endswith(".yaml"):
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    # Ctrl-C's usual handler, whatever this process inherited (a shell starts background jobs with SIGINT
    # ignored, and then no KeyboardInterrupt would ever come).
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            _generate(seeded, smap, releases, root, "new-2")
    finally:
        signal.signal(signal.SIGINT, inherited)
    monkeypatch.setattr(os, "fsync", real_fsync)
    monkeypatch.setattr(os, "replace", real_replace)
    expected = "old-1" if when == "error while writing" else "new-2"
    assert _tags(root) == {"users": expected, "auth": expected}
    assert sorted(_snapshot(root / "values/generated/dev")) == ["auth.yaml", "traefik.yaml", "users.yaml"]


def test_a_full_disk_is_a_config_error_and_the_old_set_stays(seeded, smap, releases, root):
    """A real full disk: values/generated on a 64 KiB tmpfs, filled up after the first run."""
    folder = root / "values/generated/dev"
    with tmpfs(root / "values/generated", "64k"):
        _generate(seeded, smap, releases, root, "old-1")
        before = _snapshot(folder)
        fill(root / "values/generated")
        with pytest.raises(ConfigError) as caught:
            _generate(seeded, smap, releases, root, "new-2")
        assert _snapshot(folder) == before
    assert str(caught.value) == (
        f"cannot write {folder / 'users.yaml'}: no space left on device; free space on the file system of "
        f"{folder} (`df -h {folder}`) and rerun"
    )
    assert caught.value.exit_code == 3


def test_a_read_only_file_system_is_a_config_error(seeded, smap, releases, root):
    folder = root / "values/generated/dev"
    with tmpfs(root / "values/generated", "1m"):
        _generate(seeded, smap, releases, root, "old-1")
        before = _snapshot(folder)
        remount_read_only(root / "values/generated")
        with pytest.raises(ConfigError) as caught:
            _generate(seeded, smap, releases, root, "new-2")
        assert _snapshot(folder) == before
    assert str(caught.value).startswith(f"cannot write {folder / 'users.yaml'}: read-only file system; ")
    assert "remount it rw" in str(caught.value)


def test_a_file_that_cannot_be_replaced_is_a_config_error_and_the_old_set_stays(seeded, smap, releases, root):
    """users.yaml immutable (chattr +i): found before anything is renamed, so auth.yaml stays old too."""
    folder = root / "values/generated/dev"
    _generate(seeded, smap, releases, root, "old-1")
    before = _snapshot(folder)
    with immutable(folder / "users.yaml"), pytest.raises(ConfigError) as caught:
        _generate(seeded, smap, releases, root, "new-2")
    assert _snapshot(folder) == before
    assert str(caught.value).startswith(
        f"cannot write {folder / 'users.yaml'}: operation not permitted; the file or {folder} is immutable"
    )


def test_a_folder_this_user_may_not_write_is_a_config_error(seeded, smap, releases):
    """A real permission check: as root, the write runs in a child process that became `nobody`."""
    entries = seeded.read_many(values.needed_paths(smap, releases))
    with shared_folder() as shared:
        root = shared / "repo"
        shutil.copytree(FIXTURES / "valuesroot", root)
        values.run(releases, smap, entries, _tagged("old-1"), root)
        folder = root / "values/generated/dev"
        for path in [root, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        folder.chmod(0o555)

        def attempt() -> str:
            values.run(releases, smap, entries, _tagged("new-2"), root)
            return "written"

        answer = as_unprivileged(attempt)
        assert _tags(root) == {"users": "old-1", "auth": "old-1"}
    assert answer == (
        f"raised ConfigError: cannot write {folder / 'users.yaml'}: permission denied; make {folder} "
        f"writable for this user (`ls -ld {folder}`), or run from a checkout you own"
    )

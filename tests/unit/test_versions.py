"""versions.yaml is the single source of truth, and every entry in it is an exact pin."""

from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from platformctl.app import images
from platformctl.config import release, versions
from platformctl.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_repository_versions_file_is_valid() -> None:
    loaded = versions.load()
    assert loaded.tools["helm"].version.startswith("3.17.")
    assert {"1.29.0", "1.33.0"} <= set(loaded.kubernetes.validate_)
    assert {"traefik", "kube-prometheus-stack"} <= set(loaded.charts)
    assert {"users", "auth", "notifications", "python-base"} <= set(loaded.images)


def test_no_floating_version_anywhere_in_the_file() -> None:
    text = (REPO / "versions.yaml").read_text()
    values = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        else:
            values.append(str(node))

    walk(yaml.safe_load(text))
    for value in values:
        assert not re.search(r"\blatest\b", value, re.IGNORECASE), value


def _mutated(path: list[str], value: object) -> str:
    data = yaml.safe_load((REPO / "versions.yaml").read_text())
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return yaml.safe_dump(data)


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (["tools", "helm", "version"], "latest", "tools.helm.version"),
        (["tools", "terraform", "minimum"], ">=1.10", "tools.terraform.minimum"),
        (["images", "users", "tag"], "latest", "images.users.tag"),
        (["images", "minio", "tag"], "", "images.minio.tag"),
        (["charts", "traefik", "version"], "~37.3", "charts.traefik.version"),
        (["kubernetes", "validate"], ["1.29.0", "stable"], "kubernetes.validate.1"),
        (["tools", "helm", "wheel_sha256"], "abc", "tools.helm.wheel_sha256"),
        (["tools", "helm", "colour"], "blue", "tools.helm.colour"),
        (["images", "python-base", "digest"], "sha256:abc", "images.python-base.digest"),
        (["images", "postgresql", "digest"], "md5:" + "0" * 32, "images.postgresql.digest"),
        (["eks_addons", "aws-ebs-csi-driver"], "v1.47.0", "eks_addons.aws-ebs-csi-driver"),
        (["eks_addons", "aws-ebs-csi-driver"], "latest", "eks_addons.aws-ebs-csi-driver"),
    ],
)
def test_bad_pins_are_rejected_naming_the_key(path: list[str], value: object, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        versions.parse(_mutated(path, value))
    message = str(caught.value)
    assert named in message and "\n" not in message


def _repository_files() -> list[Path]:
    """Files git tracks or would track (ignored output such as reports/ and .venv/ is left out)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return [REPO / name for name in listed if (REPO / name).is_file()]


# Files whose own tool cannot read versions.yaml, so they carry a copy of one pin; the named test fails
# when the copy differs from versions.yaml.
MIRRORS = {
    # docker build: the base image default (services/test_services_shared.py checks it)
    "services/Dockerfile": "images.python-base",
}


# Generated facts files record the chart version they were read at (tests/charts/test_alerting.py fails
# when that differs from versions.yaml's pin): the stamp line is not a second pin.
PROVENANCE = {"values/upstream-alerting.yaml": r"^read_at: .*$"}


def _mirrored(rel: str, pin: str, loaded: versions.Versions) -> bool:
    for pattern, key in MIRRORS.items():
        section, name = key.split(".", 1)
        image = getattr(loaded, section)[name]
        if fnmatch.fnmatch(rel, pattern) and pin in (image.tag, image.digest):
            return True
    return False


def test_versions_are_not_repeated_outside_versions_yaml() -> None:
    """A pinned tool, chart or image version written anywhere else in the repository would drift."""
    loaded = versions.load()
    pins = {t.package_version for t in loaded.tools.values() if t.package_version}
    pins |= {c.version for c in loaded.charts.values()}
    pins |= set(loaded.eks_addons.values())
    pins |= {i.tag for i in loaded.images.values() if len(i.tag) > 6}
    pins |= {i.digest for i in loaded.images.values() if i.digest}
    offenders = []
    for path in _repository_files():
        rel = path.relative_to(REPO).as_posix()
        if rel == "versions.yaml" or rel.startswith(("docs/", "tests/", "tools/")):
            continue
        text = path.read_text(errors="ignore")
        if rel in PROVENANCE:  # a stamp of the version facts were read at; its test fails when it drifts
            text = re.sub(PROVENANCE[rel], "", text, flags=re.MULTILINE)
        offenders += [
            f"{rel}: {pin}"
            for pin in pins
            if re.search(rf"(?<![\w.]){re.escape(pin)}(?![\w.])", text) and not _mirrored(rel, pin, loaded)
        ]
    assert not offenders, "versions repeated outside versions.yaml: " + ", ".join(offenders)


def _built_here(name: str) -> bool:
    return images.is_own_image(REPO / "services", name)


def test_upstream_images_have_a_digest_or_say_why_not() -> None:
    """Images built here have neither (their tags are content tags); every other image is pinned by the
    publisher's digest too, or its `digest_note` says why that could not be established."""
    loaded = versions.load()
    for name, image in loaded.images.items():
        if _built_here(name):
            assert image.digest is None and image.digest_note is None, name
        else:
            assert image.digest or (image.digest_note and len(image.digest_note) > 40), name
    assert loaded.images["postgresql"].reference == "postgres:16.10-bookworm"
    pinned = loaded.images["postgresql"].model_copy(update={"digest": "sha256:" + "0" * 64})
    assert pinned.reference == "postgres:16.10-bookworm@sha256:" + "0" * 64


def test_a_digest_and_a_note_together_are_refused() -> None:
    data = yaml.safe_load((REPO / "versions.yaml").read_text())
    data["images"]["python-base"]["digest"] = "sha256:" + "0" * 64  # it has a digest_note
    with pytest.raises(ConfigError, match=r"images\.python-base: .*not both"):
        versions.parse(yaml.safe_dump(data))


def test_generated_values_carry_the_digest_only_where_versions_yaml_has_one() -> None:
    from platformctl.app import values
    from platformctl.config.secret_map import load as load_secret_map

    pinned = values.pinned_images(versions.load())
    assert "digest" not in pinned["python-base"]  # it has a digest_note instead
    assert pinned["postgresql"] == {"repository": "postgres", "tag": "16.10-bookworm"}
    demo = release.Release("demo", "apps", "charts/microservice", ("values/generated/dev/demo.yaml",))
    digest = "sha256:" + "ab" * 32
    images = {"demo": {"repository": "r/demo", "tag": "1.0.0", "digest": digest}}
    assert values.generated(demo, load_secret_map(), {}, images)["image"] == {
        "repository": "r/demo",
        "tag": "1.0.0",
        "digest": digest,
    }
    images["demo"].pop("digest")
    assert values.generated(demo, load_secret_map(), {}, images)["image"] == {
        "repository": "r/demo",
        "tag": "1.0.0",
    }


def _with_chart(name: str, **changes: object) -> str:
    raw = yaml.safe_load((REPO / "versions.yaml").read_text())
    raw["charts"][name].update(changes)
    return yaml.safe_dump(raw)


def test_a_chart_bump_without_its_crd_chart_is_refused() -> None:
    """A pin bump must upgrade the chart's CRDs too: its CRD chart entry names the version it matches."""
    with pytest.raises(ConfigError) as caught:
        versions.parse(_with_chart("traefik", version="99.0.0"))
    message = str(caught.value)
    assert message.startswith("versions.yaml: charts.traefik: crds.for_version is ")
    assert "but version is 99.0.0" in message and "set crds.version to the traefik-crds release" in message
    assert "pin an exact version" not in message


@pytest.mark.parametrize(
    ("crds", "named"),
    [
        ({"chart": "traefik-crds", "version": "1.0.0"}, "charts.traefik.crds.for_version: Field required"),
        (
            {"chart": "traefik-crds", "version": "^1.0", "for_version": "37.3.0"},
            "charts.traefik.crds.version: ",
        ),
        ("always", "charts.traefik.crds: Input should be"),
    ],
    ids=["no-for_version", "range", "unknown-word"],
)
def test_bad_crd_entries_are_refused(crds: object, named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"versions.yaml: {named}")):
        versions.parse(_with_chart("traefik", crds=crds))


def test_the_bumped_pair_is_accepted() -> None:
    crds = {"chart": "traefik-crds", "version": "9.9.9", "for_version": "99.0.0"}
    parsed = versions.parse(_with_chart("traefik", version="99.0.0", crds=crds))
    assert parsed.charts["traefik"].crds == versions.CrdChart(**crds)

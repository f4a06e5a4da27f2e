"""Images pinned by digest as well as tag: every chart that runs a pinned image pulls
`repository:tag@digest` when the values carry a digest (versions.yaml `digest`), `repository:tag` when not,
and refuses anything that is not a sha256 digest."""

from __future__ import annotations

import pytest
from platformctl.app.values import COMPANION_IMAGES

from tools.charts import render

DIGEST = "sha256:" + "0123456789abcdef" * 4
IMAGE_RELEASES = [r for r in render.RELEASES if r.image]


def _images(docs: list[dict]) -> list[str]:
    """The release's own images: a companion's (the postgresql release's backup runner, COMPANION_IMAGES)
    has its own pin and test."""
    companions = {
        render.versions()["images"][name]["repository"]
        for names in COMPANION_IMAGES.values()
        for name in names
    }
    found = []
    for doc in docs:
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get(
            "template", {}
        ).get("spec")
        if pod:
            for key in ("initContainers", "containers"):
                found += [c["image"] for c in pod.get(key, []) if c["image"].split(":")[0] not in companions]
    return found


@pytest.mark.parametrize("rel", IMAGE_RELEASES, ids=lambda r: r.name)
def test_digest_is_pulled_with_the_tag(rel: render.Release) -> None:
    pin = render.versions()["images"][rel.image]
    by_tag = f"{pin['repository']}:{pin['tag']}"
    pinned = _images(render.render(rel, "prod", extra=["--set-string", f"image.digest={DIGEST}"]))
    assert pinned and set(pinned) == {f"{by_tag}@{DIGEST}"}
    unpinned = _images(render.render(rel, "prod", extra=["--set-string", "image.digest="]))
    assert unpinned and set(unpinned) == {by_tag}


@pytest.mark.parametrize("bad", ["sha256:abc", "md5:" + "0" * 32, "sha256:" + "A" * 64, "latest"])
@pytest.mark.parametrize("rel", [render.release("postgresql"), render.release("users")], ids=lambda r: r.name)
def test_anything_but_a_sha256_digest_is_refused(rel: render.Release, bad: str) -> None:
    with pytest.raises(render.RenderError, match="digest"):
        render.render(rel, "prod", extra=["--set-string", f"image.digest={bad}"])


def test_rendered_images_follow_versions_yaml() -> None:
    """What the suite renders (tools/charts/render.py, like the generated values) carries the digest
    exactly where versions.yaml has one."""
    for rel in IMAGE_RELEASES:
        pin = render.versions()["images"][rel.image]
        expected = f"{pin['repository']}:{pin['tag']}" + (f"@{pin['digest']}" if pin.get("digest") else "")
        assert set(_images(render.render(rel, "prod"))) == {expected}, rel.name

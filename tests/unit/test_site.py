"""Site profiles: parsed strictly, every replacement listed with its reason (tools/e2e/site.yaml too)."""

from __future__ import annotations

import pytest
from platformctl.config import site
from platformctl.config.paths import repo_root
from platformctl.errors import ConfigError


def test_no_profile_means_the_repository_defaults():
    profile = site.load({})
    assert profile == site.Site()
    assert profile.installer_name == "terraform" and not profile.existing_cluster
    assert profile.replacements() == []


def test_the_harness_profile_lists_every_replacement():
    profile = site.load({site.ENV_VAR: "tools/e2e/site.yaml"})
    rows = dict(profile.replacements())
    assert profile.cluster and profile.cluster.kube_context == "k8s-harness"
    assert profile.installer_name == "helm"
    assert "releases installed by: helm" in rows
    upstream = {
        "traefik",
        "traefik-crds",
        "kube-prometheus-stack",
        "prometheus-operator-crds",
        "metrics-server",
    }
    assert {*upstream, "cert-manager", "minio"} == set(profile.skip_releases)
    assert all(len(why) > 10 for why in rows.values())
    assert profile.overlay_dir(repo_root()) == repo_root() / "tools" / "e2e" / "values"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("installer: {name: pulumi, reason: why not}", "installer.name"),
        ("cluster: {kube_context: x}", "cluster.reason"),
        ("images: {delivery: ftp, reason: old habits}", "images.delivery"),
        ("skip_releases: {traefik: ''}", "skip_releases.traefik"),
        ("colour: blue", "colour"),
        ("values_overlay: '../elsewhere; rm -rf /'", "values_overlay"),
        ("- a list", "a site profile is a mapping"),
    ],
    ids=[
        "unknown-installer",
        "no-reason",
        "unknown-delivery",
        "empty-reason",
        "unknown-key",
        "bad-path",
        "list",
    ],
)
def test_bad_profiles_are_one_line_errors(text, message):
    with pytest.raises(ConfigError, match=message) as caught:
        site.parse(text, "site.yaml")
    assert "\n" not in str(caught.value)


def test_overlay_outside_the_repository_is_refused(tmp_path):
    profile = site.parse("values_overlay: ../..", "site.yaml")
    with pytest.raises(ConfigError, match="must be a folder in the repository"):
        profile.overlay_dir(repo_root())


def test_missing_profile_file_names_the_variable():
    with pytest.raises(ConfigError, match=r"PLATFORMCTL_SITE=nope\.yaml: cannot read"):
        site.load({site.ENV_VAR: "nope.yaml"})

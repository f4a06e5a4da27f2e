"""environments.yaml: the one list of environments and their facts (make, platformctl, Terraform)."""

from __future__ import annotations

from pathlib import Path

import pytest
from platformctl.adapters import kube
from platformctl.config import environments, site
from platformctl.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_the_repository_file_is_valid() -> None:
    loaded = environments.load()
    assert environments.names() == ("dev", "staging", "prod")
    assert loaded.environments["dev"].cluster_type == "kind"
    assert loaded.environments["prod"].features.autoscaling is True


def test_kube_context_and_cluster_type_come_from_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLATFORMCTL_KUBE_CONTEXT", raising=False)
    monkeypatch.delenv(site.ENV_VAR, raising=False)
    for name in environments.names():
        assert kube.expected_context(name) == environments.get(name).kube_context
        assert site.Site().cluster_type(name) == environments.get(name).cluster_type


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("cluster_type: kind", "cluster_type: gke"),
            "environments.dev.cluster_type: Input should be 'kind' or 'eks'",
        ),
        (("    kube_context: kind-platform-dev\n", ""), "environments.dev.kube_context: Field required"),
        (
            ("metrics_server: true, autoscaling: false", "metrics_server: true"),
            "features.autoscaling: Field required",
        ),
        (("  staging:", "  Staging:"), "environment name 'Staging' is not 2-16 lowercase letters or digits"),
        (("schema: 1", "schema: 2"), "schema: Input should be 1"),
    ],
    ids=["unknown-cluster-type", "no-kube-context", "missing-feature", "bad-name", "schema"],
)
def test_a_bad_file_is_one_line_naming_the_key(change: tuple[str, str], message: str) -> None:
    text = (REPO / "environments.yaml").read_text()
    assert change[0] in text
    with pytest.raises(ConfigError) as caught:
        environments.parse(text.replace(change[0], change[1], 1))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_an_unknown_env_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"unknown ENV 'qa' \(choose dev, staging, prod\)"):
        environments.get("qa")


def test_nothing_else_lists_the_environments() -> None:
    """The var files no longer repeat the facts (terraform/envs/<env>/*.tfvars)."""
    for env in environments.names():
        for stack in ("cluster", "platform"):
            text = (REPO / "terraform" / "envs" / env / f"{stack}.tfvars").read_text()
            assert "kube_context" not in text and "cluster_type" not in text, f"envs/{env}/{stack}.tfvars"

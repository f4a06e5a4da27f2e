"""The pyhelm3 installer installs exactly what terraform/modules/platform would: same settings on every
release, same values files in the same order, same charts, wave by wave. The HCL is parsed (the helm
provider cannot be installed here, so that path cannot run); the installer's own run is the e2e's."""

from __future__ import annotations

import re

import pytest
import yaml
from platformctl.app import installer, release_plan
from platformctl.config.paths import repo_root
from platformctl.config.release import Release
from platformctl.errors import ConfigError

from tests.terraform import tfkit

ROOT = repo_root()
MODULE = ROOT / "terraform" / "modules" / "platform"


def helm_releases() -> list[tuple[str, dict]]:
    return [(name, body) for _, name, body in tfkit.resources(MODULE, "helm_release")]


@pytest.mark.parametrize("block", [name for name, _ in helm_releases()])
def test_every_helm_release_has_the_installers_settings(block):
    body = dict(helm_releases())[block]
    for key, value in installer.HELM_RELEASE_SETTINGS.items():
        assert body[key] is value, f"{block}.{key}"
    assert tfkit.unwrap(body["max_history"]) == "var.max_history"
    assert tfkit.unwrap(body["timeout"]) == "each.value.timeout"
    assert tfkit.unwrap(body["values"]) == "local.values[each.key]"
    assert tfkit.unwrap(body["repository"]) == "each.value.chart.repository"
    assert tfkit.unwrap(body["version"]) == "each.value.chart.version"
    assert tfkit.unwrap(body["skip_crds"]) == "each.value.skip_crds"


def test_history_depth_is_the_same():
    defaults = {
        name: body.get("default")
        for _, name, body in tfkit.blocks(ROOT / "terraform/stacks/platform", "variable")
    }
    assert defaults["max_history"] == installer.MAX_HISTORY
    for tfvars in (ROOT / "terraform" / "envs").glob("*/platform.tfvars"):
        assert "max_history" not in tfvars.read_text(), f"{tfvars}: the installer would not see it"


def test_values_are_the_plans_files_in_order_and_missing_optional_ones_are_skipped():
    """modules/platform: `file(f) if fileexists(f)` over values_files, in order; helm merges later on top."""
    main_tf = (MODULE / "main.tf").read_text()
    assert re.search(r"for f in r\.values_files\s*:\s*file\(.*\)\s+if\s+fileexists\(", main_tf)


def test_load_values_merges_like_repeated_helm_value_files(tmp_path):
    (tmp_path / "a.yaml").write_text("image: {repository: r, tag: '1'}\nlist: [1, 2]\nkeep: x\n")
    (tmp_path / "values" / "generated" / "dev").mkdir(parents=True)
    (tmp_path / "values" / "generated" / "dev" / "users.yaml").write_text("image: {tag: '2'}\nlist: [3]\n")
    (tmp_path / "o.yaml").write_text("keep: null\n")
    files = ("a.yaml", "missing.yaml", "values/generated/dev/users.yaml", "o.yaml")
    release = Release("users", "apps", "charts/x", files)
    values = installer.load_values(release, tmp_path)
    assert values == {"image": {"repository": "r", "tag": "2"}, "list": [3], "keep": None}


def test_a_missing_generated_file_stops_the_install(tmp_path):
    release = Release("users", "apps", "charts/x", ("values/generated/dev/users.yaml",))
    with pytest.raises(ConfigError, match="run `platformctl values`"):
        installer.load_values(release, tmp_path)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_waves_follow_the_real_plan(env, tmp_path):
    plan = release_plan.from_terraform(env, state_root=tmp_path)
    grouped = installer.waves(plan)
    flat = [r.name for wave in grouped for r in wave]
    assert sorted(flat) == sorted(r.name for r in plan)
    numbers = [wave[0].wave for wave in grouped]
    assert numbers == sorted(set(numbers))
    position = {name: i for i, wave in enumerate(grouped) for name in (r.name for r in wave)}
    for release in plan:  # everything a release needs is installed in an earlier wave
        for need in release.needs:
            assert position[need] < position[release.name], f"{release.name} needs {need}"
    assert all(r.chart_path or (r.chart_repository and r.chart_version) for r in plan)


def test_overlay_is_the_last_values_file(tmp_path):
    plan = release_plan.from_terraform("dev", state_root=tmp_path, overlay="tools/e2e/values")
    users = next(r for r in plan if r.name == "users")
    assert users.values_files[-1] == "tools/e2e/values/users.yaml"
    assert users.generated_file == "values/generated/dev/users.yaml"
    assert yaml.safe_load((ROOT / users.values_files[-1]).read_text())["image"]["pullPolicy"] == "Never"


class _RecordingHelm:
    """Stands in for pyhelm3's Client, which needs a cluster (none in `make test`; the e2e run installs
    through the real one): records what the installer asks Helm to do."""

    def __init__(self) -> None:
        self.calls: dict[str, dict[str, object]] = {}

    async def get_chart(self, *args: object, **kwargs: object) -> object:
        return object()

    async def get_current_revision(self, name: str, namespace: str) -> object:
        raise installer.errors.ReleaseNotFoundError(1, b"", b"release: not found")

    async def ensure_release(self, name: str, chart: object, values: object, **kwargs: object) -> object:
        self.calls[name] = kwargs

        class _Revision:
            revision = 1

        return _Revision()


def test_the_installer_passes_the_plans_skip_crds(tmp_path):
    """traefik and kube-prometheus-stack skip their crds/ folder (their CRD releases install it); the
    installer hands the plan's flag to Helm like modules/platform's `skip_crds = each.value.skip_crds`."""
    plan = release_plan.from_terraform("prod", state_root=tmp_path)
    chosen = [r for r in plan if r.name in {"traefik", "traefik-crds", "kube-prometheus-stack", "users"}]
    for release in chosen:
        generated = tmp_path / release.generated_file
        generated.parent.mkdir(parents=True, exist_ok=True)
        generated.write_text("{}\n")
    helm = _RecordingHelm()
    installer.install(helm, chosen, tmp_path, {}, lambda _: None)  # type: ignore[arg-type]
    skipped = {name for name, kwargs in helm.calls.items() if kwargs["skip_crds"]}
    assert set(helm.calls) == {r.name for r in chosen}
    assert skipped == {"traefik", "kube-prometheus-stack"}

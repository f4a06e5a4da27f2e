"""plan/apply/destroy flow with the real terraform on provider-free fixture stacks (terraform_data).

The secrets/values/smoke steps are recorded here; each has its own tests against real servers.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from platformctl import flow
from platformctl.context import Context
from platformctl.errors import ConfigError, UsageError

FIXTURE = Path(__file__).parent / "fixtures" / "tfflow"


@pytest.fixture
def layout(tmp_path, monkeypatch) -> flow.Layout:
    cli_config = tmp_path / "empty.tfrc"
    cli_config.write_text("")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(cli_config))
    shutil.copytree(FIXTURE, tmp_path / "terraform")
    return flow.Layout(terraform=tmp_path / "terraform", state=tmp_path / "state")


def _ctx(env: str = "dev") -> Context:
    return Context(env=env, out=io.StringIO(), err=io.StringIO())


def _recorder(calls: list[str]) -> flow.Steps:
    return flow.Steps(
        secrets_sync=lambda: calls.append("secrets"),
        values=lambda: calls.append("values"),
        smoke=lambda: calls.append("smoke"),
    )


def test_plan_changes_nothing_then_apply_runs_in_order_then_destroy(layout):
    ctx = _ctx()
    assert flow.plan(ctx, layout) == {"cluster": True, "platform": True}
    assert "terraform_data.cluster will be created" in ctx.out.getvalue()
    assert not (layout.state / "dev" / "cluster.tfstate").exists()
    calls: list[str] = []
    flow.apply(ctx, layout, _recorder(calls))
    assert calls == ["secrets", "values", "smoke"]
    assert (layout.state / "dev" / "cluster.tfstate").is_file()
    kubeconfig = layout.state / "dev" / "kubeconfig"
    assert kubeconfig.read_text().endswith("# kubeconfig-of-dev-cluster\n")
    assert kubeconfig.stat().st_mode & 0o777 == 0o600
    # a sensitive output is never printed
    assert "kubeconfig-of" not in ctx.out.getvalue() + ctx.err.getvalue()
    assert flow.plan(_ctx(), layout) == {"cluster": False, "platform": False}
    flow.destroy(ctx, layout)
    assert flow.plan(_ctx(), layout) == {"cluster": True, "platform": True}


def test_prod_apply_needs_saved_plan_or_auto_approve(layout, tmp_path):
    calls: list[str] = []
    with pytest.raises(UsageError, match="apply for prod needs a saved plan"):
        flow.apply(_ctx("prod"), layout, _recorder(calls))
    with pytest.raises(ConfigError, match=r"saved plan \S+cluster.tfplan is missing"):
        flow.apply(_ctx("prod"), layout, _recorder(calls), plan_dir=tmp_path / "plans")
    assert calls == []
    flow.plan(_ctx("prod"), layout, out_dir=tmp_path / "plans")
    flow.apply(_ctx("prod"), layout, _recorder(calls), plan_dir=tmp_path / "plans")
    assert calls == ["secrets", "values", "smoke"]
    with pytest.raises(UsageError, match="destroy for prod needs --auto-approve"):
        flow.destroy(_ctx("prod"), layout)
    flow.destroy(_ctx("prod"), layout, auto_approve=True)


def test_failing_step_stops_before_platform(layout):
    def boom() -> None:
        raise ConfigError("values broken")

    calls: list[str] = []
    steps = flow.Steps(
        secrets_sync=lambda: calls.append("secrets"), values=boom, smoke=lambda: calls.append("x")
    )
    with pytest.raises(ConfigError, match="values broken"):
        flow.apply(_ctx(), layout, steps)
    assert calls == ["secrets"]
    assert not (layout.state / "dev" / "platform.tfstate").exists()


def test_missing_var_file(layout):
    with pytest.raises(ConfigError, match=r"staging/cluster.tfvars is missing"):
        flow.plan(_ctx("staging"), layout)

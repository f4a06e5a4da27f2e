"""The schema of environments.yaml (pydantic); platformctl.config.environments reads the file."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Features(_Strict):
    monitoring: bool
    ingress: bool
    tls: bool
    metrics_server: bool
    autoscaling: bool


class Environment(_Strict):
    cluster_type: Literal["kind", "eks"]
    kube_context: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9@._:/-]+$")
    features: Features


class Environments(_Strict):
    schema_: Literal[1] = Field(alias="schema")
    environments: dict[str, Environment] = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

"""The default StorageClass of charts/platform (issue 13): gp3 EBS volumes through the EBS CSI driver add-on
on EKS (staging, prod), none on kind (dev), whose own `standard` class is the default.

Rendered with the real helm and the repository's values per env; `test_render.py` validates the same
objects against the Kubernetes schemas of every `kubernetes.validate` version and the 1.20 harness.
"""

from __future__ import annotations

import pytest

from tools.charts import render

DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"


def _classes(objects: list[dict]) -> list[dict]:
    return [o for o in objects if o["kind"] == "StorageClass"]


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_eks_envs_get_one_encrypted_gp3_default_class(rendered, env):
    (sc,) = _classes(rendered[("platform", env)])
    assert sc["apiVersion"] == "storage.k8s.io/v1"
    assert sc["metadata"]["name"] == "gp3"
    assert sc["metadata"]["annotations"] == {DEFAULT_CLASS: "true"}
    assert sc["provisioner"] == "ebs.csi.aws.com", "the EBS CSI driver add-on, not the in-tree gp2 plugin"
    assert sc["parameters"] == {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"}
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer", "volume in the zone of the pod's node"
    assert sc["allowVolumeExpansion"] is True
    assert sc["reclaimPolicy"] == "Delete"


def test_kind_keeps_its_own_default_class(rendered):
    assert _classes(rendered[("platform", "dev")]) == []


@pytest.mark.parametrize("env", render.ENVS)
def test_no_env_renders_a_second_default_class(rendered, env):
    """Exactly one default in the cluster: the chart never renders more than one class marked default,
    and never touches EKS's gp2 (docs/adr/0006-eks-storage-and-metrics.md says how an old cluster's gp2
    loses its annotation)."""
    defaults = [
        o["metadata"]["name"]
        for o in rendered[("platform", env)]
        if o["kind"] == "StorageClass" and o["metadata"].get("annotations", {}).get(DEFAULT_CLASS) == "true"
    ]
    assert len(defaults) <= 1, defaults
    assert "gp2" not in {o["metadata"]["name"] for o in _classes(rendered[("platform", env)])}


def test_a_site_can_keep_the_class_without_making_it_the_default():
    objects = render.render(
        render.release("platform"),
        "prod",
        extra=["--set", "storageClass.isDefault=false", "--set", "storageClass.reclaimPolicy=Retain"],
    )
    (sc,) = _classes(objects)
    assert sc["metadata"]["annotations"] == {DEFAULT_CLASS: "false"}
    assert sc["reclaimPolicy"] == "Retain"


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("storageClass.reclaimPolicy=Recycle", "reclaimPolicy"),
        ("storageClass.fsType=ntfs", "fsType"),
        ("storageClass.encrypted=false", "encrypted"),
        ("storageClass.name=GP3", "name"),
    ],
)
def test_schema_refuses_a_wrong_storage_class_setting(setting, named):
    """Encryption and the volume type are not values: an attempt to switch them off is an unknown key."""
    with pytest.raises(render.RenderError) as info:
        render.render(render.release("platform"), "prod", extra=["--set", setting])
    assert named in str(info.value), str(info.value)

"""GKE training jobs share the stack's Filestore through a static volume instead of provisioning one each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aiinfra.offline import Plan, PlanError

PV = "kubernetes:core/v1:PersistentVolume"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"


def _training_claims(plan: Plan) -> list[Any]:
    """The claims of training jobs (not the in-cluster Prometheus's, namespace `monitoring`)."""
    return [r for r in plan.by_type(PVC) if r.inputs["metadata"].get("namespace") != "monitoring"]


def test_the_checkpoint_claim_binds_the_stacks_filestore(plan_stack: Callable[..., Plan]) -> None:
    plan = plan_stack("gcp-prod")
    (instance,) = plan.by_type("gcp:filestore/instance:Instance")
    (pv,) = plan.by_type(PV)
    (pvc,) = _training_claims(plan)
    csi = pv.inputs["spec"]["csi"]
    assert csi["driver"] == "filestore.csi.storage.gke.io"
    assert csi["volumeHandle"] == (f"modeInstance/{instance.inputs['location']}/{instance.outputs['name']}/"
                                   f"{instance.inputs['fileShares']['name']}")
    assert csi["volumeAttributes"]["volume"] == instance.inputs["fileShares"]["name"]
    assert pv.inputs["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv.inputs["spec"]["claimRef"] == {"namespace": "lm-tpu", "name": "checkpoints-lm-tpu"}
    assert pvc.inputs["spec"]["storageClassName"] == ""
    assert pvc.inputs["spec"]["volumeName"] == pv.inputs["metadata"]["name"]


def test_without_a_stack_filestore_the_csi_class_provisions_one(plan_stack: Callable[..., Plan]) -> None:
    plan = plan_stack("gcp-prod", ["storage.filestore.enabled=false"])
    assert not plan.by_type(PV)
    (pvc,) = _training_claims(plan)
    assert pvc.inputs["spec"]["storageClassName"] == "standard-rwx"


def test_small_claims_need_the_stacks_filestore(plan_stack: Callable[..., Plan]) -> None:
    with pytest.raises(PlanError, match=r"workloads\.trainingJobs\[0\]\.sharedStorageGib: 100 is below the 1024 GiB a "
                                        r"Filestore CSI volume \(standard-rwx\) starts at; raise it, or enable "
                                        r"storage\.filestore so jobs share the stack's instance"):
        plan_stack("gcp-prod", ["storage.filestore.enabled=false", "workloads.trainingJobs[0].sharedStorageGib=100"])
    plan = plan_stack("gcp-prod", ["workloads.trainingJobs[0].sharedStorageGib=100"])
    assert plan.by_type(PV)[0].inputs["spec"]["capacity"] == {"storage": "100Gi"}

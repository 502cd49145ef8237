"""TPU pods: a single slice as a TPU VM (spot, private, own service account, data disks) and multislice
as one queued resource with one node spec carrying multisliceParams (slices named <name>-<i>)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiinfra.offline import Plan
from components.compute.tpu_pod import node_ids, scheduling_config, total_chips
from components.spec import TpuPodSpec, TpuPurchase


def pod(**kw: Any) -> TpuPodSpec:
    base: dict[str, Any] = {"name": "p", "accelerator_type": "v5p-128", "generation": "v5p",
                            "zone": "us-central1-a", "runtime_version": "v2-alpha-tpuv5"}
    return TpuPodSpec(**{**base, **kw})


def test_node_ids_one_per_slice() -> None:
    assert node_ids(pod()) == ["p"]
    assert node_ids(pod(slices=3, queued=True)) == ["p-0", "p-1", "p-2"]


def test_total_chips_multiplies_slices() -> None:
    assert total_chips(pod(slices=2, queued=True)) == 128
    assert total_chips(pod(accelerator_type="v6e-256", generation="v6e")) == 256


def test_scheduling_config_per_purchase() -> None:
    assert scheduling_config(pod(purchase=TpuPurchase.SPOT)) == {"spot": True}
    assert scheduling_config(pod(purchase=TpuPurchase.PREEMPTIBLE)) == {"preemptible": True}
    assert scheduling_config(pod(reserved=True)) == {"reserved": True}
    assert scheduling_config(pod()) is None


def test_single_spot_slice_is_a_private_tpu_vm(plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> None:
    """`queued: false` keeps a spot slice a TPU VM (data disks; its create waits for capacity)."""
    base_gcp["ai-infra:tpuPods"][0].update(dataDisks=[{"sizeGib": 300}], queued=False)
    plan = plan_values(base_gcp, base=False)
    (vm,) = plan.by_type("gcp:tpu/v2Vm:V2Vm")
    i = vm.inputs
    assert (i["acceleratorType"], i["zone"], i["runtimeVersion"]) == (
        "v5litepod-8", "us-central1-a", "v2-alpha-tpuv5-lite")
    assert i["schedulingConfig"] == {"spot": True}
    assert i["networkConfig"]["enableExternalIps"] is False
    assert i["networkConfig"]["network"] == plan.exports["networkId"]
    assert i["labels"] == {"environment": "dev", "team": "ml-platform", "cost-center": "cc-1234"}
    (sa,) = [r for r in plan.by_type("gcp:serviceaccount/account:Account") if r.name.endswith("t1-sa")]
    assert i["serviceAccount"]["email"] == sa.outputs["email"]
    roles = sorted(r.inputs["role"] for r in plan.by_type("gcp:projects/iAMMember:IAMMember") if "-t1-" in r.name)
    assert roles == ["roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/tpu.viewer"]
    assert "roles/owner" not in roles and "roles/editor" not in roles
    (disk,) = plan.by_type("gcp:compute/disk:Disk")
    assert (disk.inputs["size"], disk.inputs["type"], disk.inputs["zone"]) == (300, "pd-balanced", "us-central1-a")
    assert i["dataDisks"] == [{"sourceDisk": disk.id, "mode": "READ_WRITE"}]
    assert not plan.by_type("pulumi-python:dynamic/tpu:QueuedResource")
    assert plan.exports["tpuPods"] == {"t1": ["t1"]}


def test_multislice_is_one_queued_resource(plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> None:
    base_gcp["ai-infra:tpuPods"] = [{"name": "big", "acceleratorType": "v5p-128", "zone": "us-central1-a",
                                     "slices": 4}]
    plan = plan_values(base_gcp, base=False)
    (qr,) = plan.by_type("pulumi-python:dynamic/tpu:QueuedResource")  # the REST API path (tpu_queued.py)
    (s,) = qr.inputs["tpu"]["nodeSpec"]
    assert s["multisliceParams"] == {"nodeCount": 4, "nodeIdPrefix": "big"} and "nodeId" not in s
    assert s["parent"] == "projects/ai-infra-test-1234/locations/us-central1-a"
    assert s["node"]["acceleratorType"] == "v5p-128"
    assert s["node"]["runtimeVersion"] == "v2-alpha-tpuv5"
    assert s["node"]["networkConfig"]["enableExternalIps"] is False
    assert not plan.by_type("gcp:tpu/v2Vm:V2Vm")
    assert plan.exports["tpuPods"] == {"big": ["big-0", "big-1", "big-2", "big-3"]}

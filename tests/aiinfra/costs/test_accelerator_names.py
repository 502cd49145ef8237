"""The estimator reports canonical accelerator names on every cloud, so a policy lists each accelerator once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiinfra.catalog.canonical import accelerator_names
from aiinfra.contract import ACCELERATOR_LABEL
from aiinfra.costs import CostResource, Status, estimate_stack
from aiinfra.offline import Plan
from aiinfra.offline.project import stack_names

ROOT = Path(__file__).resolve().parents[3]


def res(type_: str, inputs: dict[str, Any], name: str, parent: str | None = None) -> CostResource:
    return CostResource(f"urn:pulumi:t::ai-infra::{type_}::{name}", type_, name, inputs, parent)


@pytest.mark.parametrize("stack", stack_names(ROOT))
def test_every_accelerator_name_reported_for_every_stack_is_in_the_catalog(
        stack: str, plan_stack: Callable[..., Plan]) -> None:
    plan = plan_stack(stack)
    region = str(plan.config.get("aws:region") or plan.config.get("gcp:region"))
    cost = estimate_stack([CostResource(r.urn, r.type, r.name, r.inputs, r.parent) for r in plan.resources], region)
    reported = {line.accelerator_name for line in cost.lines if line.accelerators}
    assert reported, f"{stack} reports no accelerators"
    assert reported <= accelerator_names(), reported - accelerator_names()


def accelerator_labels(value: Any, where: str = "") -> list[tuple[str, Any]]:
    """Every `ai-infra/accelerator` label, annotation or selector value in a resource's inputs, with its path."""
    found: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == ACCELERATOR_LABEL:
                found.append((f"{where}.{key}", item))
            found += accelerator_labels(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += accelerator_labels(item, f"{where}[{i}]")
    return found


@pytest.mark.parametrize("stack", stack_names(ROOT))
def test_every_pool_label_and_job_annotation_names_a_catalog_accelerator(
        stack: str, plan_stack: Callable[..., Plan]) -> None:
    # The pools carry the canonical name on both clouds: node labels (EKS node groups, GKE node pools)
    # and the training jobs' cost annotations, so a reader of either sees one vocabulary.
    plan = plan_stack(stack)
    found = [(f"{r.type}::{r.name}{path}", value) for r in plan.resources for path, value in
             accelerator_labels(r.inputs)]
    pools = [f for f in found if ":container/nodePool:" in f[0] or ":eks/nodeGroup:" in f[0]]
    if any(r.type in ("aws:eks/nodeGroup:NodeGroup", "gcp:container/nodePool:NodePool") and "system" not in r.name
           for r in plan.resources):
        assert pools, f"{stack}: no accelerator pool labels found"
    bad = [(where, value) for where, value in found if value not in accelerator_names()]
    assert not bad, bad


def test_a_gke_pool_carries_the_canonical_name_and_derives_gkes_spelling() -> None:
    from components.kubernetes.config import TpuPoolSpec, gke_gpu_type
    from components.kubernetes.placement import tpu_placement

    assert gke_gpu_type("a3-highgpu-8g") == "nvidia-h100-80gb"
    pool = TpuPoolSpec(name="v5e", machine_type="ct5lp-hightpu-4t", accelerator="v5e", topology="4x4",
                       chips_per_node=4, hosts=4)
    placement = tpu_placement(pool)
    assert placement.accelerator == "v5e"
    assert placement.node_selector["cloud.google.com/gke-tpu-accelerator"] == "tpu-v5-lite-podslice"


def test_the_same_gpu_has_the_same_name_on_both_clouds() -> None:
    asg = res("aws:autoscaling/group:Group", {"minSize": 1, "desiredCapacity": 1, "maxSize": 1,
                                               "mixedInstancesPolicy": {"launchTemplate": {
                                                   "overrides": [{"instanceType": "p5.48xlarge"}]}}}, "asg", "urn:a")
    tpl = res("gcp:compute/instanceTemplate:InstanceTemplate", {"machineType": "a3-megagpu-8g"}, "tpl", parent="urn:g")
    mig = res("gcp:compute/instanceGroupManager:InstanceGroupManager", {"targetSize": 1}, "mig", parent="urn:g")
    aws = {line.name: line for line in estimate_stack([asg], "us-east-1").lines}
    gcp = {line.name: line for line in estimate_stack([tpl, mig], "us-central1").lines}
    assert (aws["asg"].accelerator_name, aws["asg"].accelerators) == ("h100", 8)
    assert (gcp["mig"].accelerator_name, gcp["mig"].accelerators) == ("h100", 8)


def test_attached_n1_gpus_are_named_canonically() -> None:
    tpl = res("gcp:compute/instanceTemplate:InstanceTemplate", {
        "machineType": "n1-standard-8", "guestAccelerators": [{"type": "nvidia-tesla-t4", "count": 2}]}, "tpl", "urn:g")
    mig = res("gcp:compute/instanceGroupManager:InstanceGroupManager", {"targetSize": 1}, "mig", "urn:g")
    line = {line.name: line for line in estimate_stack([tpl, mig], "us-central1").lines}["mig"]
    assert (line.accelerator_name, line.accelerators) == ("t4", 2)


def test_a_gke_gpu_pool_naming_its_bundled_gpus_is_priced_once() -> None:
    # GKE writes an A3 pool's own GPUs in guestAccelerators; they are in the machine's price, not extra.
    pool = res("gcp:container/nodePool:NodePool", {"nodeCount": 2, "nodeConfig": {
        "machineType": "a3-highgpu-8g", "diskSizeGb": 100,
        "guestAccelerators": [{"type": "nvidia-h100-80gb", "count": 8}]}}, "pool")
    line = estimate_stack([pool], "us-central1").lines[0]
    assert line.status is Status.PRICED, line.reason
    assert line.basis.startswith("2 x a3-highgpu-8g on-demand x 730 h x $88.49 + ")
    assert (line.accelerator_name, line.accelerators) == ("h100", 16)


def test_a_gke_tpu_pool_is_priced_as_the_slices_its_nodes_host() -> None:
    pool = res("gcp:container/nodePool:NodePool", {"nodeCount": 4, "nodeConfig": {"machineType": "ct5lp-hightpu-4t"}},
               "pool")
    line = estimate_stack([pool], "us-central1").lines[0]
    assert line.status is Status.PRICED, line.reason
    assert (line.accelerator_name, line.accelerators) == ("v5e", 16)


def test_a_job_on_a_gke_gpu_pool_counts_its_gpus() -> None:
    job = res("kubernetes:batch/v1:Job", {"spec": {"parallelism": 2, "activeDeadlineSeconds": 3600, "template": {
        "spec": {"nodeSelector": {"node.kubernetes.io/instance-type": "a3-highgpu-8g"}}}}}, "job")
    line = estimate_stack([job], "us-central1").lines[0]
    assert (line.accelerator_name, line.accelerators) == ("h100", 16)


def test_a_job_on_a_gke_tpu_slice_is_named_by_generation() -> None:
    job = res("kubernetes:batch/v1:Job", {"spec": {"parallelism": 4, "activeDeadlineSeconds": 3600, "template": {
        "spec": {"nodeSelector": {"cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
                                  "cloud.google.com/gke-tpu-topology": "4x4"}}}}}, "job")
    line = estimate_stack([job], "us-central1").lines[0]
    assert (line.accelerator_name, line.accelerators) == ("v5e", 16)
    assert "v5litepod-16 slice" in line.basis

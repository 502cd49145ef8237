"""The estimator reports canonical accelerator names on every cloud, so a policy lists each accelerator once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiinfra.catalog.canonical import accelerator_names
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

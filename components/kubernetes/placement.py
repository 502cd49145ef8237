"""Where a pod lands: node selectors, tolerations and accelerator resources for each kind of pool.

The cluster components label and taint their node pools; this module is the one place that
turns a pool into the matching pod scheduling terms, so labels and selectors cannot drift. The
label and taint keys are the contract with the estimator (`aiinfra/contract.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aiinfra.contract import (
    ACCELERATOR_LABEL,
    GKE_TPU_ACCELERATOR_LABEL,
    GKE_TPU_TOPOLOGY_LABEL,
    GPU_RESOURCE,
    GPU_TAINT_KEY,
    INSTANCE_TYPE_LABEL,
    POOL_LABEL,
    SPOT_LABELS,
    TPU_RESOURCE,
    TPU_TAINT_KEY,
)
from components.kubernetes.config import GpuPoolSpec, TpuPoolSpec

EFA_RESOURCE = "vpc.amazonaws.com/efa"
SYSTEM_POOL = "system"


@dataclass(frozen=True)
class Placement:
    """Scheduling terms for pods on one pool (plain data; rendered into pod specs)."""

    pool: str
    instance_type: str
    """The pool's machine type (what a node costs is priced from it)."""
    node_selector: Mapping[str, str]
    tolerations: tuple[Mapping[str, str], ...] = ()
    accelerator: str = ""
    """The canonical accelerator name (`h100`, `l4`, `v5e`: `aiinfra.catalog.canonical`); empty on CPU pools."""
    accelerator_resource: str = ""
    """The extended resource a pod requests its accelerators with; empty on CPU pools."""
    extra_resources: Mapping[str, int] = field(default_factory=dict)
    """Further per-pod extended resources (EFA interfaces on the AWS `ultra` tier)."""
    spot: bool = False


def node_labels(pool: GpuPoolSpec | TpuPoolSpec | None) -> dict[str, str]:
    """Labels the cluster puts on a pool's nodes (None: the system pool); the accelerator by its canonical name."""
    if pool is None:
        return {POOL_LABEL: SYSTEM_POOL}
    return {POOL_LABEL: pool.name, ACCELERATOR_LABEL: pool.accelerator}


def system_placement(instance_type: str) -> Placement:
    return Placement(pool=SYSTEM_POOL, instance_type=instance_type,
                     node_selector={POOL_LABEL: SYSTEM_POOL, INSTANCE_TYPE_LABEL: instance_type})


def _spot(selector: dict[str, str], cloud: str, spot: bool) -> dict[str, str]:
    if spot:
        key, value = SPOT_LABELS[cloud]
        selector[key] = value
    return selector


def gpu_placement(pool: GpuPoolSpec, cloud: str) -> Placement:
    """GPU pods on either cloud: select the pool by label, tolerate the GPU taint, ask for GPUs (and EFA)."""
    extra = {EFA_RESOURCE: pool.efa_interfaces} if pool.efa_interfaces else {}
    return Placement(
        pool=pool.name,
        instance_type=pool.instance_type,
        node_selector=_spot({POOL_LABEL: pool.name, INSTANCE_TYPE_LABEL: pool.instance_type}, cloud, pool.spot),
        tolerations=({"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"},),
        accelerator=pool.accelerator,
        accelerator_resource=GPU_RESOURCE,
        extra_resources=extra,
        spot=pool.spot,
    )


def tpu_placement(pool: TpuPoolSpec) -> Placement:
    """TPU pods on GKE: the accelerator and topology selectors are what GKE's TPU webhook keys on."""
    return Placement(
        pool=pool.name,
        instance_type=pool.machine_type,
        node_selector=_spot({
            POOL_LABEL: pool.name,
            GKE_TPU_ACCELERATOR_LABEL: pool.gke_accelerator,
            GKE_TPU_TOPOLOGY_LABEL: pool.topology,
        }, "gcp", pool.spot),
        tolerations=({"key": TPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"},),
        accelerator=pool.accelerator,
        accelerator_resource=TPU_RESOURCE,
        spot=pool.spot,
    )


def placement_for(pool: GpuPoolSpec | TpuPoolSpec, cloud: str) -> Placement:
    return gpu_placement(pool, cloud) if isinstance(pool, GpuPoolSpec) else tpu_placement(pool)

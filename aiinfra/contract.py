"""What both sides of the engine boundary agree on: the labels and taints of the cluster pools.

The components write these onto node pools and pod specs (`components/kubernetes/`,
`components/workloads/`); the estimator reads them back from the planned resources to price a
training job on the pool it selects (`aiinfra/costs/pricers/kubernetes.py`). Written once,
here and nowhere else (`tests/aiinfra/test_contract.py` fails on a second definition, a
re-export, or the bare string elsewhere); components import this module as they import
`aiinfra.catalog`. Values of
`ACCELERATOR_LABEL` are canonical accelerator names (`aiinfra.catalog.canonical`).
"""

from __future__ import annotations

__all__ = [
    "ACCELERATOR_LABEL",
    "GKE_TPU_ACCELERATOR_LABEL",
    "GKE_TPU_TOPOLOGY_LABEL",
    "GPU_RESOURCE",
    "GPU_TAINT_KEY",
    "INSTANCE_TYPE_LABEL",
    "INSTANCE_TYPE_LABELS",
    "POOL_LABEL",
    "SPOT_LABELS",
    "TPU_RESOURCE",
    "TPU_TAINT_KEY",
]

POOL_LABEL = "ai-infra/pool"
"""On every node of a pool (value: the pool's name; `system` for the system pool); jobs select on it."""
ACCELERATOR_LABEL = "ai-infra/accelerator"
"""On every node of an accelerator pool (value: the canonical accelerator name, `h100`, `v5e`)."""
GPU_TAINT_KEY = "nvidia.com/gpu"
"""Taint on every GPU node (`nvidia.com/gpu=present:NoSchedule`): only pods that ask for GPUs land there."""
TPU_TAINT_KEY = "google.com/tpu"
"""Taint on every TPU node: only pods that ask for TPU chips land there."""
GPU_RESOURCE = "nvidia.com/gpu"
"""The extended resource a pod requests GPUs with (the device plugin advertises it); the estimator counts it."""
TPU_RESOURCE = "google.com/tpu"
"""The extended resource a pod requests TPU chips with (GKE advertises it on TPU nodes)."""

INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
"""Well-known label the kubelet sets; selecting on it also lets the estimator price a pod's node."""
INSTANCE_TYPE_LABELS = (INSTANCE_TYPE_LABEL, "beta.kubernetes.io/instance-type")
"""The instance-type label and its deprecated spelling, both read by the estimator."""
GKE_TPU_ACCELERATOR_LABEL = "cloud.google.com/gke-tpu-accelerator"
"""GKE's TPU node label (value: `tpu.json` `gke_accelerator`, e.g. `tpu-v5-lite-podslice`)."""
GKE_TPU_TOPOLOGY_LABEL = "cloud.google.com/gke-tpu-topology"
"""GKE's TPU slice topology label (e.g. `2x4`); with the accelerator it names the slice."""
SPOT_LABELS: dict[str, tuple[str, str]] = {
    "aws": ("eks.amazonaws.com/capacityType", "SPOT"),
    "gcp": ("cloud.google.com/gke-spot", "true"),
}
"""Cloud -> (label, value) EKS and GKE put on spot nodes."""

"""Pod-spec helpers every workload shares: scheduling onto its pool, requests and limits.

Every pod the workloads render is non-root with a high UID, drops all capabilities, forbids
privilege escalation, uses the RuntimeDefault seccomp profile, mounts no service account
token and (where the image allows) a read-only root file system; those contexts, the
`restricted` namespaces and `register()` live in `components/kubernetes/manifests.py`
(re-exported here for the workloads).
"""

from __future__ import annotations

from typing import Any

from components.kubernetes.manifests import (
    PART_OF,
    RUN_AS_USER,
    Manifest,
    container_security_context,
    pod_security_context,
    register,
    restricted_namespace,
    service_account,
)
from components.kubernetes.placement import Placement

__all__ = ["PART_OF", "RUN_AS_USER", "Manifest", "container_security_context", "pod_security_context", "register",
           "resources", "restricted_namespace", "scheduling", "service_account"]


def scheduling(placement: Placement) -> Manifest:
    """Pod spec fields that put a pod on its pool."""
    out: Manifest = {"nodeSelector": dict(placement.node_selector)}
    if placement.tolerations:
        out["tolerations"] = [dict(t) for t in placement.tolerations]
    return out


def resources(cpu: float, memory_gib: int, placement: Placement | None, accelerators: int,
              cpu_limit: float | None = None, fabric: bool = True) -> Manifest:
    """Requests and limits; accelerators (and, with `fabric`, EFA) as whole extended resources."""
    requests: dict[str, Any] = {"cpu": _cores(cpu), "memory": f"{memory_gib}Gi"}
    limits: dict[str, Any] = {"cpu": _cores(cpu_limit if cpu_limit is not None else cpu),
                              "memory": f"{memory_gib}Gi"}
    if placement is not None and placement.accelerator_resource and accelerators:
        # Extended resources cannot be overcommitted: request equals limit.
        requests[placement.accelerator_resource] = accelerators
        limits[placement.accelerator_resource] = accelerators
        for res, count in (placement.extra_resources.items() if fabric else ()):
            requests[res] = count
            limits[res] = count
    return {"requests": requests, "limits": limits}


def _cores(cpu: float) -> str:
    """CPU as a Kubernetes quantity: whole cores as integers, fractions in millicores."""
    return str(int(cpu)) if float(cpu).is_integer() else f"{round(cpu * 1000)}m"

"""Pod-spec helpers every workload shares: scheduling onto its pool, requests and limits.

Every pod the workloads render is non-root with a high UID, drops all capabilities, forbids
privilege escalation, uses the RuntimeDefault seccomp profile, mounts no service account
token and (where the image allows) a read-only root file system; those contexts, the
`restricted` namespaces and `register()` live in `components/kubernetes/manifests.py`
(re-exported here for the workloads).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import manifests as core
from components.kubernetes.manifests import (
    PART_OF,
    RUN_AS_USER,
    Manifest,
    container_security_context,
    pod_security_context,
    restricted_namespace,
    service_account,
)
from components.kubernetes.placement import Placement
from components.workloads.config import EnvVar

__all__ = ["CUSTOM_KINDS", "PART_OF", "RUN_AS_USER", "Manifest", "container_security_context", "env_vars",
           "gcs_fuse_volume", "pod_security_context", "register", "resources", "restricted_namespace",
           "scheduling", "service_account"]

CUSTOM_KINDS: frozenset[tuple[str, str]] = frozenset({
    ("jobset.x-k8s.io/v1alpha2", "JobSet"),
    ("kueue.x-k8s.io/v1beta2", "LocalQueue"),
    ("kueue.x-k8s.io/v1beta2", "ClusterQueue"),
    ("kueue.x-k8s.io/v1beta2", "ResourceFlavor"),
    ("keda.sh/v1alpha1", "ScaledObject"),
})
"""Kinds of the controllers this program installs (controllers.py); their CRD schemas are vendored in schemas/."""


def register(name: str, manifests: Sequence[Manifest], opts: pulumi.ResourceOptions,
             extra_opts: Mapping[str, pulumi.ResourceOptions] | None = None) -> dict[str, pulumi.CustomResource]:
    """`components.kubernetes.manifests.register`, plus the controllers' custom kinds (as CustomResources).

    Objects are created in order, named `{name}-{kind}`; objects after a Namespace depend on it."""
    created: dict[str, pulumi.CustomResource] = {}
    previous: list[pulumi.Resource] = []
    for manifest in manifests:
        key = (manifest["apiVersion"], manifest["kind"])
        kind_opts = (extra_opts or {}).get(manifest["kind"])
        res_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(previous)))
        if kind_opts is not None:
            res_opts = pulumi.ResourceOptions.merge(res_opts, kind_opts)
        if key not in CUSTOM_KINDS:
            made = core.register(name, [manifest], res_opts, extra_opts)
            role, resource = next(iter(made.items()))
            if role in created:
                raise ValueError(f"{name}: two {manifest['kind']} objects; register them separately")
        else:
            role = manifest["kind"].lower()
            if role in created or manifest["kind"] == "ResourceFlavor":  # one per pool: named after it
                role = f"{role}-{manifest['metadata']['name']}"
            body = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
            resource = k8s.apiextensions.CustomResource(f"{name}-{role}", api_version=key[0], kind=key[1],
                                                        opts=res_opts, **body)
        created[role] = resource
        if manifest["kind"] == "Namespace":
            previous = [resource]
    return created


def env_vars(env: Sequence[EnvVar]) -> list[Manifest]:
    """A workload's own env: literal values, or a key of a Secret in its namespace."""
    out: list[Manifest] = []
    for e in env:
        if e.secret_name:
            out.append({"name": e.name, "valueFrom": {"secretKeyRef": {"name": e.secret_name, "key": e.secret_key}}})
        else:
            out.append({"name": e.name, "value": e.value})
    return out


def gcs_fuse_volume(name: str, bucket: Any) -> Manifest:
    """A read-only GCS FUSE volume of `bucket` (GKE injects the sidecar into pods annotated `gke-gcsfuse/volumes`)."""
    return {"name": name, "csi": {"driver": "gcsfuse.csi.storage.gke.io", "readOnly": True,
                                  "volumeAttributes": {"bucketName": bucket, "mountOptions": "implicit-dirs"}}}


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

"""Pod security defaults every workload shares, and the registration of rendered manifests as resources.

Every pod the workloads render is non-root with a high UID, drops all capabilities, forbids
privilege escalation, uses the RuntimeDefault seccomp profile, mounts no service account
token and (where the image allows) a read-only root file system. Namespaces enforce the
Kubernetes `restricted` Pod Security Standard, so the API server rejects a pod that regresses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.placement import Placement

RUN_AS_USER = 10001
"""The images' non-root user (training_images/*/Dockerfile); >= 10000 keeps it off host UIDs."""

Manifest = dict[str, Any]

PART_OF = {"app.kubernetes.io/part-of": "ai-infra", "app.kubernetes.io/managed-by": "pulumi"}


def pod_security_context() -> Manifest:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        # Volumes (the shared file system, emptyDirs) become writable by the image's group.
        "fsGroup": RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context(read_only_root: bool = True) -> Manifest:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": read_only_root,
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "capabilities": {"drop": ["ALL"]},
    }


def restricted_namespace(name: str, labels: Mapping[str, str] | None = None) -> Manifest:
    """A namespace that enforces the `restricted` Pod Security Standard."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {
            **PART_OF, **(labels or {}),
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/warn": "restricted",
        }},
    }


def service_account(name: str, namespace: str, annotations: Mapping[str, Any]) -> Manifest:
    """A service account bound to a cloud identity (IRSA / Workload Identity) through annotations.

    Its token is not automounted: cloud credentials come from the identity webhook's own
    projected token (EKS) or the metadata server (GKE); nothing here talks to the API server.
    """
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(PART_OF),
                     "annotations": dict(annotations)},
        "automountServiceAccountToken": False,
    }


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


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def _cores(cpu: float) -> str:
    """CPU as a Kubernetes quantity: whole cores as integers, fractions in millicores."""
    return str(int(cpu)) if float(cpu).is_integer() else f"{round(cpu * 1000)}m"


_ROLES = {"Namespace": "ns", "ServiceAccount": "sa", "PersistentVolumeClaim": "pvc", "PersistentVolume": "pv",
          "HorizontalPodAutoscaler": "hpa", "PodDisruptionBudget": "pdb", "NetworkPolicy": "netpol",
          "StorageClass": "storageclass"}

# kind -> SDK class; apiVersion is checked so a manifest cannot silently pick a wrong class.
_CLASSES: dict[tuple[str, str], type[pulumi.CustomResource]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("v1", "PersistentVolume"): k8s.core.v1.PersistentVolume,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "DaemonSet"): k8s.apps.v1.DaemonSet,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("storage.k8s.io/v1", "StorageClass"): k8s.storage.v1.StorageClass,
}


def register(name: str, manifests: Sequence[Manifest], opts: pulumi.ResourceOptions,
             extra_opts: Mapping[str, pulumi.ResourceOptions] | None = None) -> dict[str, pulumi.CustomResource]:
    """Create one resource per manifest, named `{name}-{kind}` (lowercase).

    Objects after a Namespace depend on it (the API server rejects objects in a namespace
    that does not exist yet). `extra_opts` merges per-kind options (e.g. replace for Jobs).
    """
    created: dict[str, pulumi.CustomResource] = {}
    previous: list[pulumi.Resource] = []
    for manifest in manifests:
        key = (manifest["apiVersion"], manifest["kind"])
        cls = _CLASSES.get(key)
        if cls is None:
            raise ValueError(f"no resource class for {key[0]} {key[1]}; add it to components/workloads/pods.py")
        role = _ROLES.get(manifest["kind"], manifest["kind"].lower())
        if role in created:
            role = f"{role}-{manifest['metadata']['name']}"
        kind_opts = (extra_opts or {}).get(manifest["kind"])
        res_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(previous)))
        if kind_opts is not None:
            res_opts = pulumi.ResourceOptions.merge(res_opts, kind_opts)
        # Top-level fields are constructor arguments (snake_case); nested dicts keep manifest (camelCase) keys.
        body = {_snake(k): v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
        resource = cls(f"{name}-{role}", **body, opts=res_opts)  # type: ignore[call-arg]
        created[role] = resource
        if manifest["kind"] == "Namespace":
            previous = [resource]
    return created

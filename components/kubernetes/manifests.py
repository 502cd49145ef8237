"""Kubernetes objects every component on a cluster shares, and their registration as resources.

The labels that mark our objects, the non-root user and security contexts of every pod, a
namespace that enforces the Kubernetes `restricted` Pod Security Standard (the API server
rejects a pod that regresses), service accounts bound to a cloud identity, and `register()`,
which turns rendered manifests into typed Pulumi resources. Cluster add-ons
(`device_plugins.py`, `eks.py`) and workloads (`components/workloads/`) both build on it; it
imports neither.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

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


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


_ROLES = {"Namespace": "ns", "ServiceAccount": "sa", "PersistentVolumeClaim": "pvc", "PersistentVolume": "pv",
          "HorizontalPodAutoscaler": "hpa", "PodDisruptionBudget": "pdb", "NetworkPolicy": "netpol",
          "StorageClass": "storageclass"}

# kind -> SDK class; apiVersion is checked so a manifest cannot silently pick a wrong class.
_CLASSES: dict[tuple[str, str], type[pulumi.CustomResource]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("v1", "PersistentVolume"): k8s.core.v1.PersistentVolume,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "DaemonSet"): k8s.apps.v1.DaemonSet,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("storage.k8s.io/v1", "StorageClass"): k8s.storage.v1.StorageClass,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): k8s.rbac.v1.ClusterRole,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): k8s.rbac.v1.ClusterRoleBinding,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
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
            raise ValueError(f"no resource class for {key[0]} {key[1]}; add it to components/kubernetes/manifests.py")
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

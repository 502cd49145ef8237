"""A distributed training run: namespace, identity, checkpoint volume, headless Service and an Indexed Job.

Each of the `nodes` pods runs the trainer image (training_images/trainer), whose entry point
execs torchrun with NNODES, NPROC_PER_NODE, NODE_RANK (the pod's completion index) and
MASTER_ADDR (the index-0 pod's DNS name under the headless Service). Checkpoints go to the
shared file system, so a restarted pod (spot reclaim, node failure) resumes from the last one.
`render()` is pure (tested by golden snapshots); the component registers what it renders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.placement import EFA_RESOURCE, TPU_RESOURCE, Placement
from components.workloads import pods
from components.workloads.config import TrainingJobSpec
from components.workloads.pods import Manifest

MASTER_PORT = 29500
SHARED_MOUNT = "/mnt/shared"
JOB_LABEL = "ai-infra/training-job"


@dataclass(frozen=True)
class SharedVolume:
    """An existing shared file system, bound by a static PersistentVolume instead of a storage class.

    On GKE a Filestore CSI storage class creates a new Filestore instance (1 TiB and up) per
    claim; binding the stack's own instance shares it and costs nothing extra.
    """

    name: str
    """The PersistentVolume's (cluster-wide) name."""
    csi_driver: str
    volume_handle: pulumi.Input[str]
    attributes: Mapping[str, pulumi.Input[str]]


@dataclass(frozen=True)
class TrainingJobArgs:
    job: TrainingJobSpec
    """What to run, how wide and for how long (validated by the spec)."""
    placement: Placement
    """The accelerator pool's scheduling terms (components/kubernetes/placement.py)."""
    storage_class: pulumi.Input[str]
    """ReadWriteMany class on the shared file system (EFS CSI access points / Filestore CSI)."""
    data_uri: pulumi.Input[str]
    """`s3://bucket/prefix` or `gs://bucket/prefix` of the dataset (DATA_URI)."""
    service_account_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Binds the pods' service account to a cloud identity (IRSA role ARN / GCP service account)."""
    provider: k8s.Provider | None = None
    """The cluster's Kubernetes provider."""
    image: pulumi.Input[str] | None = None
    """An image this stack built and pushed (by digest); overrides `job.image` (default: None)."""
    shared_volume: SharedVolume | None = None
    """Bind the checkpoint claim to this existing file system; `storage_class` is then unused
    (default: None, dynamic provisioning through `storage_class`)."""


def master_addr(job: TrainingJobSpec) -> str:
    """The index-0 pod's DNS name: an Indexed Job's pods are `<job>-<index>` under `subdomain`."""
    return f"{job.name}-0.{job.name}"


def nproc_per_node(job: TrainingJobSpec, placement: Placement) -> int:
    """torchrun workers per pod: one per GPU; one per TPU host (PJRT drives all its chips)."""
    return 1 if placement.accelerator_resource == TPU_RESOURCE else job.accelerators_per_node


def cost_annotations(job: TrainingJobSpec, placement: Placement) -> dict[str, str]:
    """What a run costs is priced from these (with activeDeadlineSeconds and completions)."""
    return {
        "ai-infra/pool": placement.pool,
        "ai-infra/instance-type": placement.instance_type,
        "ai-infra/accelerator": placement.accelerator,
        "ai-infra/accelerators-per-node": str(job.accelerators_per_node),
        "ai-infra/nodes": str(job.nodes),
        "ai-infra/max-run-hours": str(job.max_run_hours),
        "ai-infra/spot": "true" if placement.spot else "false",
    }


def _env(job: TrainingJobSpec, placement: Placement, data_uri: pulumi.Input[str]) -> list[Manifest]:
    env: list[Manifest] = [
        {"name": "MASTER_ADDR", "value": master_addr(job)},
        {"name": "MASTER_PORT", "value": str(MASTER_PORT)},
        {"name": "NNODES", "value": str(job.nodes)},
        {"name": "NPROC_PER_NODE", "value": str(nproc_per_node(job, placement))},
        {"name": "NODE_RANK", "valueFrom": {"fieldRef": {
            "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}},
        {"name": "CHECKPOINT_DIR", "value": f"{SHARED_MOUNT}/checkpoints/{job.name}"},
        {"name": "DATA_URI", "value": data_uri},
        {"name": "MODEL", "value": job.model.value},
        {"name": "MAX_STEPS", "value": str(job.max_steps)},
        {"name": "CHECKPOINT_EVERY", "value": str(job.checkpoint_every)},
    ]
    if placement.accelerator_resource == TPU_RESOURCE:
        env.append({"name": "PJRT_DEVICE", "value": "TPU"})
    if EFA_RESOURCE in placement.extra_resources:
        # NCCL over libfabric's EFA provider with GPUDirect RDMA (OS bypass between nodes).
        env += [{"name": "FI_PROVIDER", "value": "efa"}, {"name": "FI_EFA_USE_DEVICE_RDMA", "value": "1"}]
    return env


def render(job: TrainingJobSpec, placement: Placement, storage_class: pulumi.Input[str],
           data_uri: pulumi.Input[str], sa_annotations: Mapping[str, Any],
           image: pulumi.Input[str] | None = None, shared_volume: SharedVolume | None = None) -> list[Manifest]:
    """Every object of the run, in creation order (namespace first)."""
    ns = job.name
    labels = {**pods.PART_OF, "app.kubernetes.io/name": "trainer", "app.kubernetes.io/instance": job.name}
    selector = {JOB_LABEL: job.name}
    # NCCL/Gloo stage tensors in /dev/shm; the default 64 MiB stalls multi-GPU data loaders.
    shm_gib = max(1, min(64, job.memory_gib // 4))
    pod_spec: Manifest = {
        "subdomain": job.name,
        "serviceAccountName": "trainer",
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
        # Time to finish writing a checkpoint after SIGTERM (spot notice, eviction).
        "terminationGracePeriodSeconds": 120,
        "securityContext": pods.pod_security_context(),
        **pods.scheduling(placement),
        "containers": [{
            "name": "trainer",
            "image": image if image is not None else job.image,
            "imagePullPolicy": "IfNotPresent",
            "env": _env(job, placement, data_uri),
            "ports": [{"name": "rendezvous", "containerPort": MASTER_PORT, "protocol": "TCP"}],
            # Guaranteed QoS (limits == requests): exclusive cores under the static CPU manager.
            "resources": pods.resources(job.cpu, job.memory_gib, placement, job.accelerators_per_node),
            "securityContext": pods.container_security_context(read_only_root=True),
            "volumeMounts": [
                {"name": "shared", "mountPath": SHARED_MOUNT},
                {"name": "tmp", "mountPath": "/tmp"},
                {"name": "dshm", "mountPath": "/dev/shm"},
            ],
        }],
        "volumes": [
            {"name": "shared", "persistentVolumeClaim": {"claimName": "checkpoints"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "10Gi"}},
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{shm_gib}Gi"}},
        ],
    }
    return [
        pods.restricted_namespace(ns, {"app.kubernetes.io/instance": job.name}),
        pods.service_account("trainer", ns, sa_annotations),
        *_checkpoint_volume(job, ns, labels, storage_class, shared_volume),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": job.name, "namespace": ns, "labels": labels},
            "spec": {
                "clusterIP": "None",
                # Peers must resolve the index-0 pod before it is Ready (it never is: no probe).
                "publishNotReadyAddresses": True,
                "selector": selector,
                "ports": [{"name": "rendezvous", "port": MASTER_PORT, "targetPort": MASTER_PORT,
                           "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "peers-only", "namespace": ns, "labels": labels},
            "spec": {
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress"],
                # NCCL opens ephemeral ports between ranks: allow all ports, but only between peers.
                "ingress": [{"from": [{"podSelector": {"matchLabels": selector}}]}],
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": job.name, "namespace": ns, "labels": labels,
                         "annotations": cost_annotations(job, placement)},
            "spec": {
                "completionMode": "Indexed",
                "completions": job.nodes,
                "parallelism": job.nodes,
                # A failed rank takes the whole torchrun group down with it: budget restarts per group.
                "backoffLimit": job.backoff_limit * job.nodes,
                "activeDeadlineSeconds": job.active_deadline_seconds,
                "ttlSecondsAfterFinished": job.ttl_hours_after_finished * 3600,
                # Spot reclaims and preemptions are not the program's fault: they do not use up backoffLimit.
                "podFailurePolicy": {"rules": [
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                ]},
                "template": {"metadata": {"labels": {**labels, **selector}}, "spec": pod_spec},
            },
        },
    ]


def _checkpoint_volume(job: TrainingJobSpec, ns: str, labels: Mapping[str, str], storage_class: pulumi.Input[str],
                       shared: SharedVolume | None) -> list[Manifest]:
    """The claim on the shared file system: dynamic through a class, or bound to an existing volume."""
    size = f"{job.shared_storage_gib}Gi"
    claim: Manifest = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "checkpoints", "namespace": ns, "labels": dict(labels)},
        "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": storage_class,
                 "resources": {"requests": {"storage": size}}},
    }
    if shared is None:
        return [claim]
    claim["spec"] = {"accessModes": ["ReadWriteMany"], "storageClassName": "", "volumeName": shared.name,
                     "resources": {"requests": {"storage": size}}}
    volume: Manifest = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": shared.name, "labels": dict(labels)},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteMany"],
            # The file system belongs to the stack, not to this claim: never delete it with the claim.
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "claimRef": {"namespace": ns, "name": "checkpoints"},
            "csi": {"driver": shared.csi_driver, "volumeHandle": shared.volume_handle,
                    "volumeAttributes": dict(shared.attributes)},
        },
    }
    return [volume, claim]


class TrainingJob(pulumi.ComponentResource):
    job_name: pulumi.Output[str]
    """The Job's name (also its namespace)."""

    def __init__(self, name: str, args: TrainingJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:TrainingJob", name, None, opts)
        manifests = render(args.job, args.placement, args.storage_class, args.data_uri,
                           args.service_account_annotations, args.image, args.shared_volume)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        # A Job's pod template is immutable: a change replaces the Job (the run restarts from its checkpoint).
        created = pods.register(name, manifests, child, {
            "Job": pulumi.ResourceOptions(delete_before_replace=True),
        })
        self.job_name = created["job"].metadata.name  # type: ignore[attr-defined]
        self.register_outputs({"job_name": self.job_name})

"""A distributed training run: namespace, identity, checkpoint volume, Kueue LocalQueue and a JobSet.

The run is one JobSet (jobset.x-k8s.io/v1alpha2) of `nodes` pods (one Indexed Job), labelled
with the team's Kueue LocalQueue: Kueue admits it whole when the environment's ClusterQueue
has quota for all its accelerators (gang admission: two runs never each hold half a pool)
and keeps it queued otherwise. The launcher env is torchrun's (NNODES, NPROC_PER_NODE,
NODE_RANK = the pod's completion index, MASTER_ADDR = the index-0 pod under the JobSet's
headless Service; NCCL over EFA on pools with EFA) or JAX multi-host's (JAX_COORDINATOR_ADDRESS,
JAX_NUM_PROCESSES, JAX_PROCESS_ID) on TPU slices.

**Runs are not resources the engine waits on.** The JobSet carries `pulumi.com/skipAwait`, so
`pulumi up` returns once the API server has accepted it (the provider would otherwise wait for
completion and give up after 10 minutes). It has no `ttlSecondsAfterFinished`: a finished run
stays as the record of the run, so a later `pulumi up` (even with `--refresh`) finds it and never
re-creates it; and its spec is `ignoreChanges`, so editing a finished or running job's keys does
not replace (re-run) it. A new run is a new job name; `checkpointPath` keeps the old run's
checkpoint folder so the renamed run resumes instead of starting at step 0.

**Preemption.** A pod ended by a disruption (spot reclaim, node drain, Kueue preemption) fails
its Job by the pod failure policy; the JobSet failure policy then restarts the whole gang
without counting it against `backoffLimit` (program errors do count), and Kueue requeues the
run if its pods do not become ready again (waitForPodsReady in controllers.py). Every restart
resumes from the last checkpoint on the shared file system.
`render()` is pure (tested by golden snapshots); the component registers what it renders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from aiinfra.contract import ACCELERATOR_LABEL, POOL_LABEL, TPU_RESOURCE
from components.kubernetes.placement import EFA_RESOURCE, Placement
from components.workloads import pods
from components.workloads.config import Launcher, TrainingJobSpec
from components.workloads.pods import Manifest

MASTER_PORT = 29500
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
    queue: str = "default"
    """The team's Kueue LocalQueue (created in the run's namespace)."""
    cluster_queue: str = "default"
    """The environment's ClusterQueue (queueing.py)."""
    bucket: pulumi.Input[str] | None = None
    """GCS bucket for `bucketMount` (GKE)."""
    shared_volume: SharedVolume | None = None
    """Bind the checkpoint claim to this existing file system; `storage_class` is then unused
    (default: None, dynamic provisioning through `storage_class`)."""


REPLICATED_JOB = "node"
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"


def master_addr(job: TrainingJobSpec) -> str:
    """The index-0 pod's DNS name: JobSet pods are `<jobset>-<replicatedJob>-<job index>-<pod index>` under the
    JobSet's headless Service (named after the JobSet)."""
    return f"{job.name}-{REPLICATED_JOB}-0-0.{job.name}"


def checkpoint_dir(job: TrainingJobSpec) -> str:
    return f"{job.shared_mount}/checkpoints/{job.checkpoint_path}"


def checkpoint_claim(job: TrainingJobSpec) -> str:
    """The claim is named after the checkpoint folder, not the job: EKS's `efs-sc` maps each claim name to one
    directory on the file system (components/kubernetes/eks.py), so a renamed job keeping its `checkpointPath`
    mounts the directory its predecessor wrote to."""
    return f"checkpoints-{job.checkpoint_path}"


def nproc_per_node(job: TrainingJobSpec, placement: Placement) -> int:
    """torchrun workers per pod: one per GPU; one per TPU host (PJRT drives all its chips)."""
    return 1 if placement.accelerator_resource == TPU_RESOURCE else job.accelerators_per_node


def cost_annotations(job: TrainingJobSpec, placement: Placement) -> dict[str, str]:
    """What a run costs is priced from these (with activeDeadlineSeconds and completions)."""
    return {
        POOL_LABEL: placement.pool,
        "ai-infra/instance-type": placement.instance_type,
        ACCELERATOR_LABEL: placement.accelerator,
        "ai-infra/accelerators-per-node": str(job.accelerators_per_node),
        "ai-infra/nodes": str(job.nodes),
        "ai-infra/max-run-hours": str(job.max_run_hours),
        "ai-infra/spot": "true" if placement.spot else "false",
    }


_INDEX = {"fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}


def _env(job: TrainingJobSpec, placement: Placement, data_uri: pulumi.Input[str]) -> list[Manifest]:
    env: list[Manifest] = [
        {"name": "MASTER_ADDR", "value": master_addr(job)},
        {"name": "MASTER_PORT", "value": str(MASTER_PORT)},
        {"name": "NNODES", "value": str(job.nodes)},
        {"name": "NODE_RANK", "valueFrom": _INDEX},
    ]
    if job.launcher is Launcher.JAX:
        # One JAX process per host; jax.distributed.initialize() reads these (trainer_tpu/cluster.py).
        env += [{"name": "JAX_COORDINATOR_ADDRESS", "value": f"{master_addr(job)}:{MASTER_PORT}"},
                {"name": "JAX_NUM_PROCESSES", "value": str(job.nodes)},
                {"name": "JAX_PROCESS_ID", "valueFrom": _INDEX}]
    else:
        env.append({"name": "NPROC_PER_NODE", "value": str(nproc_per_node(job, placement))})
    env += [
        {"name": "CHECKPOINT_DIR", "value": checkpoint_dir(job)},
        {"name": "DATA_URI", "value": data_uri},
        {"name": "MODEL", "value": job.model.value},
        {"name": "MAX_STEPS", "value": str(job.max_steps)},
        {"name": "CHECKPOINT_EVERY", "value": str(job.checkpoint_every)},
    ]
    if placement.accelerator_resource == TPU_RESOURCE and job.launcher is not Launcher.JAX:
        env.append({"name": "PJRT_DEVICE", "value": "TPU"})
    if EFA_RESOURCE in placement.extra_resources:
        # NCCL over libfabric's EFA provider with GPUDirect RDMA (OS bypass between nodes).
        env += [{"name": "FI_PROVIDER", "value": "efa"}, {"name": "FI_EFA_USE_DEVICE_RDMA", "value": "1"}]
    return env + pods.env_vars(job.env)


def render(job: TrainingJobSpec, placement: Placement, storage_class: pulumi.Input[str],
           data_uri: pulumi.Input[str], sa_annotations: Mapping[str, Any],
           image: pulumi.Input[str] | None = None, shared_volume: SharedVolume | None = None,
           queue: str = "default", cluster_queue: str = "default",
           bucket: pulumi.Input[str] | None = None) -> list[Manifest]:
    """Every object of the run, in creation order (namespace first).

    `queue` names the team's LocalQueue (created here, in the run's namespace) and
    `cluster_queue` the environment's ClusterQueue it feeds; `bucket` is the GCS bucket for
    `bucketMount` (GKE)."""
    ns = job.name
    labels = {**pods.PART_OF, "app.kubernetes.io/name": "trainer", "app.kubernetes.io/instance": job.name}
    selector = {JOB_LABEL: job.name}
    volumes: list[Manifest] = [
        {"name": "shared", "persistentVolumeClaim": {"claimName": checkpoint_claim(job)}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "10Gi"}},
        # NCCL/Gloo stage tensors in /dev/shm; the default 64 MiB stalls multi-GPU data loaders.
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{job.shm_gib}Gi"}},
    ]
    mounts: list[Manifest] = [
        {"name": "shared", "mountPath": job.shared_mount},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "dshm", "mountPath": "/dev/shm"},
    ]
    pod_annotations: dict[str, str] = {}
    if job.bucket_mount and bucket is not None:
        volumes.append(pods.gcs_fuse_volume("bucket", bucket))
        mounts.append({"name": "bucket", "mountPath": job.bucket_mount, "readOnly": True})
        pod_annotations["gke-gcsfuse/volumes"] = "true"
    container: Manifest = {
        "name": "trainer",
        "image": image if image is not None else job.image,
        "imagePullPolicy": "IfNotPresent",
        "env": _env(job, placement, data_uri),
        "ports": [{"name": "rendezvous", "containerPort": MASTER_PORT, "protocol": "TCP"},
                  *({"name": f"port-{p}", "containerPort": p, "protocol": "TCP"} for p in job.ports)],
        # Guaranteed QoS (limits == requests): exclusive cores under the static CPU manager.
        "resources": pods.resources(job.cpu, job.memory_gib, placement, job.accelerators_per_node),
        "securityContext": pods.container_security_context(read_only_root=True),
        "volumeMounts": mounts,
    }
    if job.command:
        container["command"] = list(job.command)
    if job.args:
        container["args"] = list(job.args)
    pod_spec: Manifest = {
        "serviceAccountName": "trainer",
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
        # Time to finish writing a checkpoint after SIGTERM (spot notice, eviction).
        "terminationGracePeriodSeconds": 120,
        "securityContext": pods.pod_security_context(),
        **pods.scheduling(placement),
        "containers": [container],
        "volumes": volumes,
    }
    template_meta: Manifest = {"labels": {**labels, **selector}}
    if pod_annotations:
        template_meta["annotations"] = pod_annotations
    return [
        pods.restricted_namespace(ns, {"app.kubernetes.io/instance": job.name}),
        pods.service_account("trainer", ns, sa_annotations),
        *_checkpoint_volume(job, ns, labels, storage_class, shared_volume),
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "LocalQueue",
            "metadata": {"name": queue, "namespace": ns, "labels": labels},
            "spec": {"clusterQueue": cluster_queue},
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
            "apiVersion": "jobset.x-k8s.io/v1alpha2",
            "kind": "JobSet",
            "metadata": {"name": job.name, "namespace": ns, "labels": {**labels, QUEUE_LABEL: queue},
                         "annotations": {**cost_annotations(job, placement), **SKIP_AWAIT}},
            "spec": {
                # The headless Service `<name>` the JobSet creates; peers resolve the index-0 pod before
                # it is Ready (it never is: no probe).
                "network": {"enableDNSHostnames": True, "subdomain": job.name, "publishNotReadyAddresses": True},
                "failurePolicy": {
                    # Program errors: restart the whole gang (a failed rank takes torchrun/JAX down) this often.
                    "maxRestarts": job.backoff_limit,
                    "restartStrategy": "Recreate",
                    # Disruptions (spot reclaim, drain, preemption) are not the program's fault.
                    "rules": [{"name": "disrupted", "action": "RestartJobSetAndIgnoreMaxRestarts",
                               "onJobFailureReasons": ["PodFailurePolicy"]}],
                },
                "successPolicy": {"operator": "All"},
                "replicatedJobs": [{
                    "name": REPLICATED_JOB,
                    "replicas": 1,
                    "template": {"spec": {
                        "completionMode": "Indexed",
                        "completions": job.nodes,
                        "parallelism": job.nodes,
                        "backoffLimit": 0,
                        "activeDeadlineSeconds": job.active_deadline_seconds,
                        "podFailurePolicy": {"rules": [
                            {"action": "FailJob", "onPodConditions": [{"type": "DisruptionTarget",
                                                                      "status": "True"}]},
                        ]},
                        "template": {"metadata": template_meta, "spec": pod_spec},
                    }},
                }],
            },
        },
    ]


def _checkpoint_volume(job: TrainingJobSpec, ns: str, labels: Mapping[str, str], storage_class: pulumi.Input[str],
                       shared: SharedVolume | None) -> list[Manifest]:
    """The claim on the shared file system: dynamic through a class, or bound to an existing volume."""
    size = f"{job.shared_storage_gib}Gi"
    name = checkpoint_claim(job)
    claim: Manifest = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
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
            "claimRef": {"namespace": ns, "name": name},
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
                           args.service_account_annotations, args.image, args.shared_volume, args.queue,
                           args.cluster_queue, args.bucket)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        # A submitted run is never replaced or re-run by a later `pulumi up` (see the module docstring).
        created = pods.register(name, manifests, child, {
            "JobSet": pulumi.ResourceOptions(ignore_changes=["spec", "metadata"]),
        })
        assert "jobset" in created
        self.job_name = pulumi.Output.from_input(args.job.name)
        self.register_outputs({"job_name": self.job_name})

"""A TPU pod: one slice as a TPU VM (`gcp.tpu.V2Vm`), or a queued resource (the TPU REST API through
`components.compute.tpu_queued`, which the provider's `V2QueuedResource` cannot do) for queued
provisioning, spot slices (the `spot` tier, so `pulumi up` does not wait for capacity) and multislice
(N identical slices that train as one job). Private network, no external IPs, a least-privilege service
account, optional data disks (TPU VM only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from aiinfra.catalog.rules.gcp import queued_tpu_service_account
from aiinfra.catalog.tpu import TpuSlice, tpu_slice
from components.compute.config import TpuPodSpec, TpuPurchase
from components.compute.gcp_gpu_group import workload_account
from components.compute.tpu_queued import QueuedResource, queued_resource_body

# What a TPU VM needs: read/write checkpoints in the bucket, logs, metrics, and (for JAX/XLA on
# multi-host slices) reading its own TPU node to find its peer workers.
_PROJECT_ROLES = ("roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/tpu.viewer")
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
"""TPU VMs take IAM-governed access; the account's roles above are the real limit."""


def node_ids(pod: TpuPodSpec) -> list[str]:
    """One TPU node per slice; multislice names them `<name>-0`, `<name>-1`, ..."""
    if pod.slices == 1:
        return [pod.name]
    return [f"{pod.name}-{i}" for i in range(pod.slices)]


def scheduling_config(pod: TpuPodSpec) -> dict[str, bool] | None:
    if pod.purchase is TpuPurchase.SPOT:
        return {"spot": True}
    if pod.purchase is TpuPurchase.PREEMPTIBLE:
        return {"preemptible": True}
    if pod.reserved:
        return {"reserved": True}
    return None


def total_chips(pod: TpuPodSpec) -> int:
    """Chips across every slice (what the job sees; what cost is priced on)."""
    return tpu_slice(pod.accelerator_type).chips * pod.slices


@dataclass(frozen=True)
class TpuPodArgs:
    pod: TpuPodSpec
    """Accelerator type, zone, runtime, slices, purchase (validated by the spec)."""
    project: str
    network_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    """The TPU VMs read and write checkpoints here."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """The stack's cost labels: a TPU VM gets them from the tag transform (components/tagging.py); a spot
    queued resource's node spec (spot or on-demand) carries them itself (the transform does not reach into the REST
    body)."""


class TpuPod(pulumi.ComponentResource):
    node_names: pulumi.Output[list[str]]
    """The TPU node names (one per slice)."""
    slice: TpuSlice
    """Chips, hosts and topology of one slice (pure, from the catalog)."""
    service_account_email: pulumi.Output[str] | None
    """The nodes' account (None for an on-demand queued resource, whose nodes run as the default account)."""
    queue_state: pulumi.Output[str] | None = None
    """A queued resource's state when created or last refreshed (WAITING_FOR_RESOURCES until the queue serves
    it, then ACTIVE); None for a directly created TPU VM. `pulumi up` does not wait for ACTIVE (row 14); a spot
    slice is queued by default (`queued_by_default`)."""

    def __init__(self, name: str, args: TpuPodArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:TpuPod", name, None, opts)
        pod = args.pod
        child = pulumi.ResourceOptions(parent=self)
        self.slice = tpu_slice(pod.accelerator_type)
        network: dict[str, Any] = {"network": args.network_id, "subnetwork": args.subnet_id,
                                   "enable_external_ips": False, "can_ip_forward": False}

        metadata = {"enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE"}
        if pod.queued and pod.purchase is not TpuPurchase.SPOT:
            # An on-demand queued resource (gcp-prod's multislice) keeps what it was created with: its
            # nodes run as the project's Compute Engine default account (rules.gcp.queued_tpu_service_account),
            # which gets objectUser on the bucket here so the project can strip it of Editor. Giving it the
            # dedicated account would replace a deployed queued resource (every field is immutable).
            # Its nodes carry the stack's cost labels (the tag transform cannot reach inside the request),
            # so finance's team and cost-center split sees the slices; on a queued resource deployed
            # before the labels were added this is a one-time replacement (docs/cloud-fidelity.md row 14).
            self.service_account_email = None
            self._queue(name, args, child)
            number = gcp.organizations.get_project_output(project_id=args.project,
                                                          opts=pulumi.InvokeOutputOptions(parent=self)).number
            gcp.storage.BucketIAMMember(f"{name}-default-sa-bucket", bucket=args.bucket_name,
                                        role="roles/storage.objectUser",
                                        member=number.apply(queued_tpu_service_account), opts=child)
            self.register_outputs({"node_names": self.node_names})
            return

        # A TPU VM, or a spot slice queued with the `spot` tier: the same least-privilege account either way.
        sa = workload_account(name, pod.name, f"TPU {pod.name}", args.project, _PROJECT_ROLES, args.bucket_name,
                              "roles/storage.objectUser", "bucket", child)
        self.service_account_email = sa.email
        if pod.queued:
            # Spot through a queued resource (REST API, components/compute/tpu_queued.py): create returns once
            # the request is queued, so `pulumi up` does not wait for (or fail on) spot capacity the way a
            # TPU VM's create does (review row 14); the queue provisions the node when capacity frees up.
            self._queue(name, args, child, service_account={"email": sa.email, "scope": list(SCOPES)},
                        metadata=metadata)
        else:
            disks: list[dict[str, Any]] = []
            for i, d in enumerate(pod.data_disks):
                disk = gcp.compute.Disk(f"{name}-data-{i}", zone=pod.zone, size=d.size_gib, type=d.type,
                                        opts=child)
                disks.append({"source_disk": disk.id, "mode": d.mode.value})
            vm_args: dict[str, Any] = dict(
                name=pod.name,
                zone=pod.zone,
                accelerator_type=pod.accelerator_type,
                runtime_version=pod.runtime_version,
                network_config=network,
                service_account={"email": sa.email, "scopes": list(SCOPES)},
                scheduling_config=scheduling_config(pod),
                data_disks=disks or None,
                metadata=metadata,
                description=f"{pod.accelerator_type}: {self.slice.chips} chips on {self.slice.hosts} hosts",
            )
            vm = gcp.tpu.V2Vm(f"{name}-vm", opts=child, **vm_args)
            self.node_names = vm.name.apply(lambda n: [n])

        self.register_outputs({"node_names": self.node_names})

    def _queue(self, name: str, args: TpuPodArgs, child: pulumi.ResourceOptions, **node: Any) -> None:
        """The pod as one queued resource (every path carries the stack's cost labels in its node spec)."""
        pod = args.pod
        qr = QueuedResource(f"{name}-qr", project=args.project, zone=pod.zone, queued_resource_id=pod.name,
                            body=queued_resource_body(pod, args.project, args.network_id, args.subnet_id,
                                                      labels=dict(args.labels), **node),
                            opts=child)
        ids = node_ids(pod)
        self.node_names = qr.id.apply(lambda _: ids)
        self.queue_state = qr.state

"""A GCP GPU instance group: instance template (GPUs bundled or attached, TERMINATE on maintenance,
spot, shielded VM, no external IP, minimal scopes, shared file system mounted at boot) and a managed
instance group (zonal with compact placement, regional otherwise), with an optional autoscaler.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from aiinfra.catalog.gcp import gcp_machine_type
from aiinfra.catalog.gpu_fabric import gpu_fabric
from aiinfra.catalog.rules.gcp import gpu_nic_layout, gpu_vm_secure_boot, regional_mig_target_shape
from components.common import Purchase
from components.compute.config import GcpGpuGroupSpec
from components.network.gpu_fabric import GpuFabricNetworks
from components.network.tiers import GcpTier

# Deep Learning VM image with CUDA; `install-nvidia-driver` makes it load the driver at first boot.
IMAGE = "projects/deeplearning-platform-release/global/images/family/common-cu124-debian-11-py310"
DRIVER_AT_FIRST_BOOT = True
"""The image installs the NVIDIA driver on the VM (metadata `install-nvidia-driver`), so its modules are unsigned."""
# Read the artifacts bucket, write logs and metrics: nothing else (IAM narrows further per role).
SCOPES = (
    "https://www.googleapis.com/auth/devstorage.read_only",
    "https://www.googleapis.com/auth/logging.write",
    "https://www.googleapis.com/auth/monitoring.write",
)
_PROJECT_ROLES = ("roles/logging.logWriter", "roles/monitoring.metricWriter")
_REGIONAL_ZONES = 3
"""Zones a regional group spreads over when none is pinned (every GPU region has at least three)."""


def guest_accelerators(group: GcpGpuGroupSpec) -> list[dict[str, object]]:
    """Attached GPUs: only N1 takes them; A3/A2/G2 machine types bundle their own."""
    if gcp_machine_type(group.machine_type) is not None or not group.accelerator_type:
        return []
    return [{"type": group.accelerator_type, "count": group.accelerator_count}]


def uses_compact_placement(group: GcpGpuGroupSpec, tier: GcpTier) -> bool:
    facts = gcp_machine_type(group.machine_type)
    return tier.compact_placement and facts is not None and facts.compact_placement


def nic_type(group: GcpGpuGroupSpec, tier: GcpTier) -> str:
    facts = gcp_machine_type(group.machine_type)
    return "GVNIC" if tier.gvnic or (facts is not None and facts.gvnic_required) else "VIRTIO_NET"


def tier1_networking(group: GcpGpuGroupSpec, tier: GcpTier) -> bool:
    """Tier_1 egress only where the tier asks for it and the machine type sells it."""
    facts = gcp_machine_type(group.machine_type)
    return tier.tier1_networking and facts is not None and facts.tier1_networking


def is_zonal(group: GcpGpuGroupSpec, tier: GcpTier) -> bool:
    """Compact placement is single-zone, so those groups are zonal; the rest are regional."""
    return uses_compact_placement(group, tier)


def scheduling(group: GcpGpuGroupSpec) -> dict[str, object]:
    """GPUs cannot live-migrate: TERMINATE on host maintenance; spot VMs are deleted on preemption
    so the group recreates them."""
    if group.purchase is Purchase.SPOT:
        return {"provisioning_model": "SPOT", "preemptible": True, "automatic_restart": False,
                "on_host_maintenance": "TERMINATE", "instance_termination_action": "DELETE"}
    return {"provisioning_model": "STANDARD", "preemptible": False, "automatic_restart": True,
            "on_host_maintenance": "TERMINATE"}


def reservation_affinity(group: GcpGpuGroupSpec) -> dict[str, object]:
    if group.reservation:
        return {"type": "SPECIFIC_RESERVATION",
                "specific_reservation": {"key": "compute.googleapis.com/reservation-name",
                                         "values": [group.reservation]}}
    # Spot VMs cannot consume reservations; on-demand ones use any matching reservation.
    return {"type": "NO_RESERVATION" if group.purchase is Purchase.SPOT else "ANY_RESERVATION"}


def startup_script(filestore_ip: str | None, share: str | None) -> str:
    """Boot script: mount the Filestore share at /mnt/shared (NFSv3, as Filestore serves it)."""
    lines = ["#!/bin/bash", "set -euo pipefail"]
    if filestore_ip and share:
        lines += [
            "command -v mount.nfs >/dev/null || (apt-get update -q && apt-get install -y -q nfs-common)",
            "mkdir -p /mnt/shared",
            f"grep -q ' /mnt/shared ' /etc/fstab || echo '{filestore_ip}:/{share} /mnt/shared nfs "
            "rw,hard,timeo=600,retrans=3,rsize=1048576,wsize=1048576,_netdev 0 0' >> /etc/fstab",
            "mount -a",
        ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class GcpGpuGroupArgs:
    group: GcpGpuGroupSpec
    """Machine type, GPUs, sizes, spot, disks, zone (validated by the spec)."""
    project: str
    region: str
    tier: GcpTier
    """From the network tier: gVNIC, compact placement, Tier_1."""
    subnet_self_link: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    """Instances may read (only read) this bucket."""
    filestore_ip: pulumi.Input[str] | None = None
    filestore_share: str | None = None


class GcpGpuGroup(pulumi.ComponentResource):
    group_name: pulumi.Output[str]
    """The managed instance group's name."""
    instance_group: pulumi.Output[str]
    """The instance group URL (what a load balancer or GKE would reference)."""
    service_account_email: pulumi.Output[str]

    def __init__(self, name: str, args: GcpGpuGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:GcpGpuGroup", name, None, opts)
        g = args.group
        child = pulumi.ResourceOptions(parent=self)

        sa = workload_account(name, g.name, f"GPU group {g.name}", args.project, _PROJECT_ROLES, args.bucket_name,
                              "roles/storage.objectViewer", "bucket-read", child)

        placement = None
        if uses_compact_placement(g, args.tier):
            placement = gcp.compute.ResourcePolicy(
                f"{name}-compact", region=args.region,
                group_placement_policy={"collocation": "COLLOCATED"},
                description="compact placement: VMs on nearby hosts for low-latency collectives",
                opts=child,
            )

        # On `ultra`, a machine type with GPU NICs (A3 High: 4, GPUDirect-TCPX; A3 Mega: 8, GPUDirect-TCPXO) gets
        # one gVNIC per GPU NIC, each on its own MTU-8244 network (components/network/gpu_fabric.py,
        # rules.gcp.gpu_nic_layout).
        nics: list[dict[str, Any]] = [{"subnetwork": args.subnet_self_link, "nic_type": nic_type(g, args.tier)}]
        fabric = gpu_fabric(g.machine_type) if args.tier.tier1_networking else None
        if fabric is not None:
            fabric_nets = GpuFabricNetworks(f"{name}-fabric", fabric, args.region, args.project, opts=child)
            nics += [{"network": n.network, "subnetwork": n.subnetwork, "nic_type": fabric.nic_type}
                     for n in fabric_nets.nics]
            problem = gpu_nic_layout(g.machine_type, [str(n["nic_type"]) for n in nics],
                                     [n.mtu for n in fabric_nets.nics])
            if problem:
                raise ValueError(f"gpuGroups {g.name}: {problem}")
        script = pulumi.Output.from_input(args.filestore_ip).apply(
            lambda ip: startup_script(ip, args.filestore_share))
        # Nested inputs are plain dicts (the SDK accepts them); typed as Any for the overloads.
        template_args: dict[str, Any] = dict(
            machine_type=g.machine_type,
            region=args.region,
            disks=[{"boot": True, "auto_delete": True, "source_image": IMAGE, "disk_size_gb": g.boot_disk_gib,
                    "disk_type": g.boot_disk_type.value}],
            guest_accelerators=guest_accelerators(g),
            network_interfaces=nics,
            network_performance_config={"total_egress_bandwidth_tier": "TIER_1"}
            if tier1_networking(g, args.tier) else None,
            scheduling=scheduling(g),
            reservation_affinity=reservation_affinity(g),
            # The DLVM installs the NVIDIA driver at first boot, unsigned: Secure Boot would refuse to load it
            # (rules.gcp.gpu_vm_secure_boot).
            shielded_instance_config={"enable_secure_boot": gpu_vm_secure_boot(DRIVER_AT_FIRST_BOOT),
                                      "enable_vtpm": True, "enable_integrity_monitoring": True},
            service_account={"email": sa.email, "scopes": list(SCOPES)},
            metadata={"install-nvidia-driver": str(DRIVER_AT_FIRST_BOOT), "enable-oslogin": "TRUE",
                      "block-project-ssh-keys": "TRUE"},
            metadata_startup_script=script,
            resource_policies=placement.self_link if placement else None,  # one policy, a string in this SDK
            description=f"GPU group {g.name}: {g.machine_type}",
        )
        template = gcp.compute.InstanceTemplate(f"{name}-template", opts=child, **template_args)

        version = [{"name": "primary", "instance_template": template.self_link_unique}]
        autoscaled = g.autoscaling is not None
        # The autoscaler owns the size at run time; `pulumi up` must not reset it.
        mig_opts = pulumi.ResourceOptions(parent=self, ignore_changes=["targetSize"] if autoscaled else None)
        if is_zonal(g, args.tier):
            zonal_args: dict[str, Any] = dict(
                zone=g.zone, base_instance_name=g.name, versions=version,
                target_size=g.target_size, wait_for_instances=False,
                update_policy={"type": "OPPORTUNISTIC", "minimal_action": "REPLACE",
                               "max_surge_fixed": 0, "max_unavailable_fixed": 1,
                               "replacement_method": "RECREATE"},
            )
            mig: gcp.compute.InstanceGroupManager | gcp.compute.RegionInstanceGroupManager = \
                gcp.compute.InstanceGroupManager(f"{name}-mig", opts=mig_opts, **zonal_args)
        else:
            zones = [g.zone] if g.zone else None
            regional_args: dict[str, Any] = dict(
                region=args.region, base_instance_name=g.name, versions=version,
                target_size=g.target_size, wait_for_instances=False,
                distribution_policy_zones=zones,
                # GPUs are scarce: without an autoscaler the group takes whichever zones have
                # capacity (ANY); an autoscaled regional MIG must be EVEN (rules.gcp).
                distribution_policy_target_shape=regional_mig_target_shape(autoscaled),
                update_policy={"type": "OPPORTUNISTIC", "minimal_action": "REPLACE",
                               "instance_redistribution_type": "NONE", "max_surge_fixed": 0,
                               "max_unavailable_fixed": 1 if zones else _REGIONAL_ZONES,
                               "replacement_method": "RECREATE"},
            )
            mig = gcp.compute.RegionInstanceGroupManager(f"{name}-mig", opts=mig_opts, **regional_args)

        if g.autoscaling is not None:
            a = g.autoscaling
            if isinstance(mig, gcp.compute.InstanceGroupManager):
                gcp.compute.Autoscaler(
                    f"{name}-autoscaler", zone=g.zone, target=mig.id,
                    autoscaling_policy=gcp.compute.AutoscalerAutoscalingPolicyArgs(
                        min_replicas=a.min_size, max_replicas=a.max_size, cooldown_period=a.cooldown_seconds,
                        cpu_utilization=gcp.compute.AutoscalerAutoscalingPolicyCpuUtilizationArgs(
                            target=a.cpu_utilization)),
                    opts=child)
            else:
                gcp.compute.RegionAutoscaler(
                    f"{name}-autoscaler", region=args.region, target=mig.id,
                    autoscaling_policy=gcp.compute.RegionAutoscalerAutoscalingPolicyArgs(
                        min_replicas=a.min_size, max_replicas=a.max_size, cooldown_period=a.cooldown_seconds,
                        cpu_utilization=gcp.compute.RegionAutoscalerAutoscalingPolicyCpuUtilizationArgs(
                            target=a.cpu_utilization)),
                    opts=child)

        self.group_name = mig.name
        self.instance_group = mig.instance_group
        self.service_account_email = sa.email
        self.register_outputs({"group_name": self.group_name, "instance_group": self.instance_group})


def account_id(short: str, unique: str) -> str:
    """A service account id (6-30 characters, project-unique): the short name plus a hash of the
    full component name, so two stacks in one project do not collide."""
    return f"{short[:20]}-{hashlib.sha256(unique.encode()).hexdigest()[:6]}"


def workload_account(name: str, short: str, display_name: str, project: pulumi.Input[str],
                     roles: tuple[str, ...], bucket: pulumi.Input[str], bucket_role: str, bucket_binding: str,
                     opts: pulumi.ResourceOptions) -> gcp.serviceaccount.Account:
    """The least-privilege service account a GPU group's or TPU slice's VMs run as: the project roles
    given, and `bucket_role` on the stack's bucket (binding `{name}-{bucket_binding}`)."""
    sa = gcp.serviceaccount.Account(f"{name}-sa", account_id=account_id(short, name), display_name=display_name,
                                    opts=opts)
    for role in roles:
        gcp.projects.IAMMember(f"{name}-{role.split('/')[1]}", project=project, role=role, member=sa.member, opts=opts)
    gcp.storage.BucketIAMMember(f"{name}-{bucket_binding}", bucket=bucket, role=bucket_role, member=sa.member,
                                opts=opts)
    return sa

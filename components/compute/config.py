"""The `gpuGroups` and `tpuPods` stack keys: AWS GPU groups, GCP GPU groups and TPU slices.

Also the instance-type rules that Kubernetes GPU pools share with GPU groups (a known GPU
type, Capacity-Blocks-only types, EFA on the `ultra` tier), so each rule and its message is
written once.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from aiinfra.catalog import AwsInstanceType, aws_instance_type, aws_instance_types, aws_neuron_type
from aiinfra.catalog.gcp import gcp_machine_type, gcp_machine_types, n1_accelerators, n1_machine_types
from aiinfra.catalog.rules._support import eks_supported_versions
from aiinfra.catalog.rules.aws import eks_ami_line
from aiinfra.catalog.rules.gcp import cpu_autoscaler_min_replicas
from aiinfra.catalog.tpu import TpuTypeError, tpu_generation, tpu_slice
from components.common import Environment, Purchase, parse_zone
from components.config_reader import RESOURCE_NAME, Reader, get, hint, key_of, keys, setting, show
from components.network.config import NetworkSpec
from components.network.tiers import Tier, tier_row

# --------------------------------------------------------------------------------------
# AWS GPU groups (cloud: aws)
# --------------------------------------------------------------------------------------


class AmiFamily(StrEnum):
    """Which public GPU AMI the launch template resolves through SSM."""

    DLAMI = "dlami"
    """AWS Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04)."""
    EKS = "eks"
    """EKS-optimized accelerated Amazon Linux 2023 AMI (NVIDIA)."""


_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_DAY = "(MON|TUE|WED|THU|FRI|SAT|SUN)"
_DAYS = re.compile(rf"^(\*|{_DAY}(-{_DAY})?(,{_DAY})*)$")
_RESERVATION = re.compile(r"^cr-[0-9a-f]{8,17}$")
ON_DEMAND_PERCENT = {Purchase.ON_DEMAND: 100, Purchase.SPOT: 0, Purchase.MIXED: 50}
"""The on-demand share above the base that each purchase model means."""


@dataclass(frozen=True)
class ScheduleSpec:
    """Working hours of a non-prod group; outside them it scales to zero."""

    start: str = setting("start", "08:00", type_doc="`HH:MM`", doc="scale up at (24 h)")
    stop: str = setting("stop", "20:00", type_doc="`HH:MM`", doc="scale to zero at (24 h)")
    days: str = setting("days", "MON-FRI", doc="days it runs: `MON-FRI`, `MON,WED,FRI` or `*`")
    timezone: str = setting("timezone", "UTC", type_doc="IANA zone", doc="time zone of start and stop")

    def cron(self, at: str) -> str:
        hour, minute = at.split(":")
        return f"{int(minute)} {int(hour)} * * {self.days}"


@dataclass(frozen=True)
class GpuGroupSpec:
    name: str = setting("name", doc="1-24 lowercase letters, digits, `-`; unique")
    instance_type: str = setting("instanceType", doc="a GPU type from `aiinfra/catalog/data/aws_instances.json`")
    extra_instance_types: tuple[str, ...] = setting("extraInstanceTypes", (), type_doc="list",
                                                    doc="alternatives with the same GPU count and model (spot "
                                                        "diversity)")
    min_size: int = setting("minSize", 0, lo=0, hi=1000, doc="instances the group keeps")
    max_size: int = setting("maxSize", derived="max(minSize, 1)", lo=0, hi=1000,
                            doc="need minSize <= desiredCapacity <= maxSize")
    desired_capacity: int = setting("desiredCapacity", derived="minSize", lo=0, hi=1000,
                                    doc="instances at creation (schedules move it later)")
    purchase: Purchase = setting("purchase", Purchase.ON_DEMAND, doc="spot groups have no on-demand base")
    on_demand_base_capacity: int = setting("onDemandBaseCapacity", 0, lo=0, hi=1000,
                                           doc="on-demand instances before any spot")
    on_demand_percentage_above_base: int = setting(
        "onDemandPercentageAboveBase", derived="100 / 0 / 50 by purchase", lo=0, hi=100, unit="percent",
        type_doc="0-100", doc="on-demand share above the base; spot uses `price-capacity-optimized`")
    root_volume_gib: int = setting("rootVolumeGib", 200, lo=75, hi=16384, unit="GiB",
                                   doc="encrypted gp3 root volume, 75 to 16384")
    efa: bool = setting("efa", derived="true on `ultra` for EFA types",
                        doc="EFA interfaces, as many as the type takes (catalog); resolved by `parse_gpu_groups` "
                            "from the tier (a model built without it has none)")
    capacity_reservation_id: str = setting("capacityReservationId", "", default_doc="—",
                                           doc="target an On-Demand Capacity Reservation / Capacity Block "
                                               "(`cr-...`); on-demand, one type, no placement group")
    capacity_block: bool = setting("capacityBlock", False,
                                   doc="the reservation is a Capacity Block (market type `capacity-block`); "
                                       "required for Capacity-Block-only types")
    schedule: ScheduleSpec | None = setting("schedule", None, default_doc="—",
                                            doc="non-prod only: scales to zero outside working hours")
    ami_family: AmiFamily = setting("amiFamily", AmiFamily.DLAMI, doc="GPU AMI resolved from AWS's public SSM "
                                                                      "parameter")
    kubernetes_version: str = setting("kubernetesVersion", "1.33",
                                      doc="with `amiFamily: eks`: which EKS accelerated AMI line")

    def __post_init__(self) -> None:
        if self.max_size is None:
            object.__setattr__(self, "max_size", max(self.min_size, 1))
        if self.desired_capacity is None:
            object.__setattr__(self, "desired_capacity", self.min_size)
        if self.on_demand_percentage_above_base is None:
            object.__setattr__(self, "on_demand_percentage_above_base", ON_DEMAND_PERCENT[self.purchase])

    @property
    def instance_types(self) -> tuple[str, ...]:
        return (self.instance_type, *self.extra_instance_types)

    @property
    def targets_reserved_capacity(self) -> bool:
        return bool(self.capacity_reservation_id)


def efa_capable_like(accelerator: str) -> list[str]:
    """EFA-capable instance types with the same GPU, for suggestions."""
    return sorted(n for n, t in aws_instance_types().items() if t.supports_efa and t.accelerator == accelerator)


def not_a_gpu_type(itype: str) -> str:
    """Why an EC2 type is refused where a GPU type is expected: a Trainium/Inferentia type says so, anything
    else gets a did-you-mean."""
    neuron = aws_neuron_type(itype)
    if neuron is not None:
        families = ", ".join(sorted({t.family for t in aws_instance_types().values()}))
        return (f"{itype!r} is an AWS {neuron.accelerator.capitalize()} (Neuron) type: it is priced (aiinfra price "
                f"{itype}) but not provisioned here, because GPU groups and pools install NVIDIA AMIs and the NVIDIA "
                f"device plugin and Neuron needs the Neuron AMI and device plugin; use an NVIDIA GPU type ({families})")
    return f"{itype!r} is not a known GPU instance type{hint(itype, aws_instance_types())}"


def check_aws_gpu_type(r: Reader, obj: Mapping[str, Any], path: str) -> tuple[str, AwsInstanceType | None]:
    """`instanceType`: required, and a GPU type the catalog knows (did-you-mean otherwise; Neuron types refused
    with the reason)."""
    itype = r.string(obj, "instanceType", path, required=True)
    facts = aws_instance_type(itype) if itype else None
    if itype and facts is None:
        r.add(f"{path}.instanceType", not_a_gpu_type(itype), itype)
    return itype, facts


def check_efa_on_ultra(r: Reader, itype: str, facts: AwsInstanceType, where: str) -> None:
    """The `ultra` tier is EFA: a type without it is refused, naming EFA types with the same GPU."""
    if facts.supports_efa:
        return
    capable = efa_capable_like(facts.accelerator)
    alt = f" (with the same GPU: {', '.join(capable[:3])})" if capable else ""
    r.add(where, f"{itype!r} has no EFA, which network.tier 'ultra' requires; choose an EFA-capable type{alt} or "
                 "tier 'enhanced'", itype)


def parse_gpu_groups(r: Reader, raw: Any, network: NetworkSpec, env: Environment) -> tuple[GpuGroupSpec, ...]:
    return r.named_list(raw, "gpuGroups", lambda obj, path: _parse_gpu_group(r, obj, path, network, env))


def _parse_gpu_group(r: Reader, obj: Mapping[str, Any], path: str, network: NetworkSpec,
                     env: Environment) -> GpuGroupSpec:
    r.known_keys(obj, keys(GpuGroupSpec), path)
    name = r.name(obj, path, RESOURCE_NAME)
    itype, facts = check_aws_gpu_type(r, obj, path)

    known = aws_instance_types()
    extras: list[str] = []
    for j, extra in enumerate(r.sequence(obj.get("extraInstanceTypes"), f"{path}.extraInstanceTypes")):
        where = f"{path}.extraInstanceTypes[{j}]"
        other = aws_instance_type(extra) if isinstance(extra, str) else None
        if other is None:
            r.add(where, not_a_gpu_type(extra) if isinstance(extra, str) else
                  f"{show(extra)} is not a known GPU instance type{hint(str(extra), known)}", extra)
            continue
        if facts is not None and (other.gpu_count, other.accelerator) != (facts.gpu_count, facts.accelerator):
            r.add(where, f"{extra!r} has {other.gpu_count} x {other.accelerator}, but {itype!r} has "
                         f"{facts.gpu_count} x {facts.accelerator}; alternatives must offer the same GPUs", extra)
            continue
        extras.append(extra)

    min_size = get(r, GpuGroupSpec, "min_size", obj, path)
    max_size = get(r, GpuGroupSpec, "max_size", obj, path, default=max(min_size, 1))
    desired = get(r, GpuGroupSpec, "desired_capacity", obj, path, default=min_size)
    if not min_size <= desired <= max_size:
        r.add(path, f"minSize {min_size}, desiredCapacity {desired}, maxSize {max_size} are out of order; need "
                    "minSize <= desiredCapacity <= maxSize")

    purchase = get(r, GpuGroupSpec, "purchase", obj, path)
    base = get(r, GpuGroupSpec, "on_demand_base_capacity", obj, path)
    pct = get(r, GpuGroupSpec, "on_demand_percentage_above_base", obj, path, default=ON_DEMAND_PERCENT[purchase])
    if purchase is Purchase.SPOT and base:
        r.add(f"{path}.onDemandBaseCapacity", f"{base} contradicts purchase 'spot' (spot-only groups have no "
                                              "on-demand base); set it to 0 or use purchase 'mixed'", base)
    if purchase is Purchase.SPOT and pct:
        r.add(f"{path}.onDemandPercentageAboveBase", f"{pct} contradicts purchase 'spot'; set it to 0 or use "
                                                     "purchase 'mixed'", pct)
    if purchase is Purchase.ON_DEMAND and pct != 100:
        r.add(f"{path}.onDemandPercentageAboveBase", f"{pct} contradicts purchase 'on-demand' (100 percent); use "
                                                     "purchase 'mixed' for a spot share", pct)
    if base > max_size:
        r.add(f"{path}.onDemandBaseCapacity", f"{base} exceeds maxSize {max_size}", base)

    root = get(r, GpuGroupSpec, "root_volume_gib", obj, path)

    reservation = get(r, GpuGroupSpec, "capacity_reservation_id", obj, path)
    capacity_block = get(r, GpuGroupSpec, "capacity_block", obj, path)
    if reservation and not _RESERVATION.match(reservation):
        r.add(f"{path}.capacityReservationId", f"{reservation!r} is not a capacity reservation id such as "
                                               "'cr-0123456789abcdef0'", reservation)
    if capacity_block and not reservation:
        r.add(f"{path}.capacityBlock", "true needs capacityReservationId (the id of the purchased Capacity Block)")
    if reservation and purchase is not Purchase.ON_DEMAND:
        r.add(f"{path}.purchase", f"'{purchase.value}' cannot target a capacity reservation; reserved capacity is "
                                  "on-demand only", purchase.value)
    if reservation and extras:
        r.add(f"{path}.extraInstanceTypes", "must be empty when targeting a capacity reservation (it is for one "
                                            "instance type)")
    if facts is not None and facts.capacity_blocks_only and not capacity_block:
        r.add(f"{path}.instanceType", f"{itype!r} is sold only through EC2 Capacity Blocks; set capacityBlock: true "
                                      "and capacityReservationId", itype)

    efa = get(r, GpuGroupSpec, "efa", obj, path, default=resolve_efa(network, facts))
    if facts is not None:
        if efa and not facts.supports_efa:
            capable = efa_capable_like(facts.accelerator)
            alt = f" such as {capable[0]!r}" if capable else ""
            r.add(f"{path}.efa", f"true, but {itype!r} has no EFA support; use an EFA-capable type{alt} or set efa: "
                                 "false", True)
        if network.tier is Tier.ULTRA:
            check_efa_on_ultra(r, itype, facts, f"{path}.instanceType")
        for extra in extras:
            other = aws_instance_type(extra)
            if efa and other is not None and other.efa_interfaces != facts.efa_interfaces:
                r.add(f"{path}.extraInstanceTypes",
                      f"{extra!r} takes {other.efa_interfaces} EFA interfaces, {itype!r} takes "
                      f"{facts.efa_interfaces}; one launch template cannot serve both", extra)

    schedule = _parse_schedule(r, obj.get("schedule"), f"{path}.schedule", env, "schedule" in obj)
    if schedule is not None and min_size > 0 and purchase is Purchase.ON_DEMAND and reservation:
        r.add(f"{path}.schedule", "cannot scale reserved capacity to zero (it is paid for either way); remove the "
                                  "schedule")

    ami = get(r, GpuGroupSpec, "ami_family", obj, path)
    k8s = get(r, GpuGroupSpec, "kubernetes_version", obj, path)
    problem = eks_ami_line(k8s)
    if problem:
        r.add(f"{path}.kubernetesVersion", problem, k8s, eks_supported_versions())

    return GpuGroupSpec(
        name=name or f"group{path}", instance_type=itype, extra_instance_types=tuple(extras), min_size=min_size,
        max_size=max_size, desired_capacity=desired, purchase=purchase, on_demand_base_capacity=base,
        on_demand_percentage_above_base=pct, root_volume_gib=root, efa=efa, capacity_reservation_id=reservation,
        capacity_block=capacity_block, schedule=schedule, ami_family=ami, kubernetes_version=k8s,
    )


def resolve_efa(network: NetworkSpec, facts: AwsInstanceType | None) -> bool:
    """The `efa` default: on where the tier puts EFA on capable types (ultra) and the type has it."""
    return tier_row(network.tier).aws.efa and facts is not None and facts.supports_efa


def _parse_schedule(r: Reader, raw: Any, path: str, env: Environment, written: bool) -> ScheduleSpec | None:
    if raw is None and not written:
        return None
    if raw is None:
        r.add(path, "is null; expected a mapping (start, stop, days, timezone), or remove the key", None)
        return None
    obj = r.mapping(raw, path)
    r.known_keys(obj, keys(ScheduleSpec), path)
    if env is Environment.PROD:
        r.add(path, "scale-to-zero schedules are for non-prod stacks; prod capacity follows its sizes")
    start = get(r, ScheduleSpec, "start", obj, path)
    stop = get(r, ScheduleSpec, "stop", obj, path)
    for key, value in (("start", start), ("stop", stop)):
        if not _HHMM.match(value):
            r.add(f"{path}.{key}", f"{value!r} is not a time of day; expected 'HH:MM' (24 h)", value)
    if _HHMM.match(start) and start == stop:
        r.add(path, f"start and stop are both {start!r}; the group would never run")
    days = get(r, ScheduleSpec, "days", obj, path)
    if not _DAYS.match(days):
        r.add(f"{path}.days", f"{days!r} is not a day list; expected e.g. 'MON-FRI', 'MON,WED,FRI' or '*'", days)
    tz = get(r, ScheduleSpec, "timezone", obj, path)
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        r.add(f"{path}.timezone", f"{tz!r} is not an IANA time zone such as 'Europe/Berlin' or 'UTC'", tz)
    return ScheduleSpec(start=start, stop=stop, days=days, timezone=tz)


# --------------------------------------------------------------------------------------
# GCP GPU groups (cloud: gcp)
# --------------------------------------------------------------------------------------


class BootDiskType(StrEnum):
    PD_BALANCED = "pd-balanced"
    PD_SSD = "pd-ssd"
    PD_STANDARD = "pd-standard"
    HYPERDISK_BALANCED = "hyperdisk-balanced"


_GCP_RESERVATION = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class GcpAutoscalingSpec:
    min_size: int = setting("minSize", 1, lo=0, hi=1000,
                            doc="fewest instances; at least 1: a CPU autoscaler cannot scale out of an empty "
                                "group (`rules.gcp.cpu_autoscaler_min_replicas`)")
    max_size: int = setting("maxSize", derived="max(minSize, 1)", lo=1, hi=1000, doc="most instances")
    cpu_utilization: float = setting("cpuUtilization", 0.6, lo=0.1, hi=0.95,
                                     doc="target average CPU utilization the autoscaler holds")
    cooldown_seconds: int = setting("cooldownSeconds", 300, lo=60, hi=3600, unit="seconds",
                                    doc="seconds a new VM gets before its metrics count (drivers and images load "
                                        "slowly)")

    def __post_init__(self) -> None:
        if self.max_size is None:
            object.__setattr__(self, "max_size", max(self.min_size, 1))


def default_boot_disk(machine_type: str) -> BootDiskType:
    """hyperdisk-balanced for machine types that boot only from Hyperdisk (catalog), else pd-balanced."""
    facts = gcp_machine_type(machine_type)
    if facts is not None and facts.boot_disk_types == ("hyperdisk-balanced",):
        return BootDiskType.HYPERDISK_BALANCED
    return BootDiskType.PD_BALANCED


@dataclass(frozen=True)
class GcpGpuGroupSpec:
    """A GCP GPU managed instance group (cloud: gcp)."""

    name: str = setting("name", doc="1-24 lowercase letters, digits, `-`; unique")
    machine_type: str = setting("machineType", doc="A3/A2/G2 (GPUs bundled) or N1 from "
                                                   "`aiinfra/catalog/data/gcp_machines.json`")
    accelerator_type: str = setting("acceleratorType", "", default_doc="—",
                                    doc="N1 only, e.g. `nvidia-tesla-t4`; vCPU ceiling per GPU count checked")
    accelerator_count: int = setting("acceleratorCount", 0, lo=0, hi=8, default_doc="1 with acceleratorType",
                                     doc="N1 only: GPUs attached")
    zone: str = setting("zone", "", type_doc="zone", default_doc="—",
                        doc="required on `enhanced`/`ultra` (zonal group, compact placement); pins a regional "
                            "group otherwise")
    target_size: int = setting("targetSize", derived="1 (autoscaling.minSize with autoscaling)", lo=0, hi=1000,
                               doc="instances")
    autoscaling: GcpAutoscalingSpec | None = setting("autoscaling", None, default_doc="—",
                                                     doc="autoscale the group on CPU utilization")
    purchase: Purchase = setting("purchase", Purchase.ON_DEMAND, doc="`mixed` is AWS-only")
    boot_disk_gib: int = setting("bootDiskGib", 200, lo=50, hi=65536, unit="GiB", doc="boot disk size")
    boot_disk_type: BootDiskType = setting("bootDiskType", derived="hyperdisk-balanced for Hyperdisk-only machine "
                                                                   "types, else pd-balanced",
                                           doc="boot disk type the machine type accepts")
    reservation: str = setting("reservation", "", default_doc="—",
                               doc="consume this specific reservation (on-demand only)")

    def __post_init__(self) -> None:
        if self.target_size is None:
            object.__setattr__(self, "target_size", self.autoscaling.min_size if self.autoscaling else 1)
        if self.boot_disk_type is None:
            object.__setattr__(self, "boot_disk_type", default_boot_disk(self.machine_type))

    @property
    def gpu_count(self) -> int:
        facts = gcp_machine_type(self.machine_type)
        return facts.gpu_count if facts is not None else self.accelerator_count


# AWS group keys and what a GCP group says instead: a stack moved between clouds gets a pointer.
_AWS_ONLY_GROUP_KEYS = {
    "instanceType": "machineType (e.g. 'g2-standard-8')",
    "extraInstanceTypes": "one machineType per group",
    "minSize": "autoscaling.minSize",
    "maxSize": "autoscaling.maxSize",
    "desiredCapacity": "targetSize",
    "onDemandBaseCapacity": "purchase 'on-demand' or 'spot' per group",
    "onDemandPercentageAboveBase": "purchase 'on-demand' or 'spot' per group",
    "rootVolumeGib": "bootDiskGib",
    "efa": "network.tier (gVNIC and compact placement come from the tier)",
    "capacityReservationId": "reservation (a reservation name)",
    "capacityBlock": "reservation",
    "schedule": "autoscaling",
    "amiFamily": "nothing (the image is the Deep Learning VM with NVIDIA drivers)",
    "kubernetesVersion": "nothing (GKE versions belong to the cluster)",
}


def parse_gcp_gpu_groups(r: Reader, raw: Any, network: NetworkSpec, region: str) -> tuple[GcpGpuGroupSpec, ...]:
    return r.named_list(raw, "gpuGroups", lambda obj, path: _parse_gcp_gpu_group(r, obj, path, network, region))


def _parse_gcp_gpu_group(r: Reader, obj: Mapping[str, Any], path: str, network: NetworkSpec,
                         region: str) -> GcpGpuGroupSpec:
    for key in obj:
        if key in _AWS_ONLY_GROUP_KEYS:
            r.add(f"{path}.{key}", f"is an AWS key; on cloud 'gcp' use {_AWS_ONLY_GROUP_KEYS[key]}")
    r.known_keys({k: v for k, v in obj.items() if k not in _AWS_ONLY_GROUP_KEYS}, keys(GcpGpuGroupSpec), path)
    name = r.name(obj, path, RESOURCE_NAME)

    mtype = r.string(obj, "machineType", path, required=True)
    facts = gcp_machine_type(mtype) if mtype else None
    n1 = n1_machine_types().get(mtype) if mtype else None
    known = [*gcp_machine_types(), *n1_machine_types()]
    if mtype and facts is None and n1 is None:
        r.add(f"{path}.machineType", f"{mtype!r} is not a known GPU machine type (A3, A2, G2, or N1 with "
                                     f"acceleratorType){hint(mtype, known)}", mtype)

    acc_type = get(r, GcpGpuGroupSpec, "accelerator_type", obj, path)
    acc_count = get(r, GcpGpuGroupSpec, "accelerator_count", obj, path, default=1 if acc_type else 0)
    if facts is not None and (acc_type or "acceleratorCount" in obj):
        r.add(f"{path}.acceleratorType", f"{mtype!r} comes with {facts.gpu_count} x {facts.accelerator}; "
                                         "acceleratorType and acceleratorCount are for N1 machine types only")
    if n1 is not None:
        accs = n1_accelerators()
        acc = accs.get(acc_type) if acc_type else None
        if not acc_type:
            r.add(f"{path}.acceleratorType", f"is required with N1 machine type {mtype!r}; expected one of "
                                             f"{', '.join(sorted(accs))}", allowed=tuple(sorted(accs)))
        elif acc is None:
            r.add(f"{path}.acceleratorType", f"{acc_type!r} is not a GPU that attaches to N1; expected one of "
                                             f"{', '.join(sorted(accs))}{hint(acc_type, accs)}", acc_type,
                  tuple(sorted(accs)))
        elif acc_count not in acc.max_vcpus:
            r.add(f"{path}.acceleratorCount", f"{acc_count} x {acc_type} is not offered; expected one of "
                                              f"{', '.join(str(c) for c in sorted(acc.max_vcpus))}", acc_count)
        elif n1.vcpu > acc.max_vcpus[acc_count]:
            fits = sorted(c for c, v in acc.max_vcpus.items() if v >= n1.vcpu)
            fix = f"acceleratorCount {fits[0]}" if fits else "a smaller N1 machine type"
            r.add(f"{path}.machineType", f"{mtype!r} has {n1.vcpu} vCPUs, more than the {acc.max_vcpus[acc_count]} "
                                         f"GCP allows with {acc_count} x {acc_type}; use {fix}", mtype)

    tier = tier_row(network.tier).gcp
    zone = parse_zone(r, obj, path, region, required=False)
    if tier.compact_placement and not zone and "zone" not in obj:
        r.add(f"{path}.zone", f"is required on network.tier {network.tier.value!r}: compact placement keeps the "
                              f"group in one zone; set e.g. '{region or 'us-central1'}-a'")
    if tier.compact_placement and n1 is not None:
        r.add(f"{path}.machineType", f"N1 ({mtype!r}) does not take compact placement, which network.tier "
                                     f"{network.tier.value!r} uses; choose an A2/A3/G2 type or tier 'standard'", mtype)
    if facts is not None and facts.gvnic_required and not tier.gvnic:
        r.add(f"{path}.machineType", f"{mtype!r} runs only with gVNIC, which network.tier 'standard' does not "
                                     "enable; use tier 'enhanced' or 'ultra'", mtype)

    purchase = get(r, GcpGpuGroupSpec, "purchase", obj, path)
    if purchase is Purchase.MIXED:
        r.add(f"{path}.purchase", "'mixed' is not available on GCP (a managed instance group is all spot or all "
                                  "standard); use two groups, one 'spot' and one 'on-demand'", "mixed")
    if purchase is Purchase.SPOT and facts is not None and not facts.spot:
        r.add(f"{path}.purchase", f"'spot' is not sold for {mtype!r}; use purchase 'on-demand'", "spot")

    boot_gib = get(r, GcpGpuGroupSpec, "boot_disk_gib", obj, path)
    boot_type = get(r, GcpGpuGroupSpec, "boot_disk_type", obj, path, default=default_boot_disk(mtype))
    allowed_disks = facts.boot_disk_types if facts is not None else ("pd-standard", "pd-balanced", "pd-ssd")
    if mtype and (facts is not None or n1 is not None) and boot_type.value not in allowed_disks:
        r.add(f"{path}.bootDiskType", f"{boot_type.value!r} cannot boot {mtype!r}; expected one of "
                                      f"{', '.join(allowed_disks)}", boot_type.value, tuple(allowed_disks))

    reservation = get(r, GcpGpuGroupSpec, "reservation", obj, path)
    if reservation and not _GCP_RESERVATION.match(reservation):
        r.add(f"{path}.reservation", f"{reservation!r} is not a reservation name (1-63 lowercase letters, digits "
                                     "and '-')", reservation)
    if reservation and purchase is Purchase.SPOT:
        r.add(f"{path}.purchase", "'spot' cannot consume a reservation; reserved capacity is on-demand only", "spot")

    autoscaling = _parse_autoscaling(r, obj, f"{path}.autoscaling")
    target = get(r, GcpGpuGroupSpec, "target_size", obj, path,
                 default=autoscaling.min_size if autoscaling else 1)
    if autoscaling is not None and not autoscaling.min_size <= target <= autoscaling.max_size:
        r.add(f"{path}.targetSize", f"{target} is outside autoscaling.minSize {autoscaling.min_size} .. maxSize "
                                    f"{autoscaling.max_size}", target)

    return GcpGpuGroupSpec(
        name=name or f"group{path}", machine_type=mtype, accelerator_type=acc_type if n1 is not None else "",
        accelerator_count=acc_count if n1 is not None else 0, zone=zone, target_size=target,
        autoscaling=autoscaling, purchase=purchase, boot_disk_gib=boot_gib, boot_disk_type=boot_type,
        reservation=reservation,
    )


def _parse_autoscaling(r: Reader, group: Mapping[str, Any], path: str) -> GcpAutoscalingSpec | None:
    key = key_of(GcpGpuGroupSpec, "autoscaling")
    if key not in group:
        return None
    if group[key] is None:
        r.add(path, "is null; expected a mapping (minSize, maxSize, cpuUtilization, cooldownSeconds), or remove "
                    "the key", None)
        return None
    obj = r.mapping(group[key], path)
    r.known_keys(obj, keys(GcpAutoscalingSpec), path)
    lo = get(r, GcpAutoscalingSpec, "min_size", obj, path)
    empty = cpu_autoscaler_min_replicas(lo)
    if empty:
        r.add(f"{path}.minSize", empty, lo)
    hi = get(r, GcpAutoscalingSpec, "max_size", obj, path, default=max(lo, 1))
    if lo > hi:
        r.add(path, f"minSize {lo} exceeds maxSize {hi}")
    return GcpAutoscalingSpec(min_size=lo, max_size=hi,
                              cpu_utilization=get(r, GcpAutoscalingSpec, "cpu_utilization", obj, path),
                              cooldown_seconds=get(r, GcpAutoscalingSpec, "cooldown_seconds", obj, path))


# --------------------------------------------------------------------------------------
# TPU slices (cloud: gcp)
# --------------------------------------------------------------------------------------


class TpuPurchase(StrEnum):
    """How a TPU slice is bought."""

    ON_DEMAND = "on-demand"
    SPOT = "spot"
    PREEMPTIBLE = "preemptible"
    """Legacy preemptible TPUs (v4 and older); newer generations sell spot."""


def queued_by_default(slices: int, purchase: TpuPurchase) -> bool:
    """Multislice needs a queued resource; a spot slice goes through one too, whose create returns once the
    request is queued (with the `spot` tier), so `pulumi up` never waits for spot capacity (review row 14)."""
    return slices > 1 or purchase is TpuPurchase.SPOT


class DiskMode(StrEnum):
    READ_WRITE = "READ_WRITE"
    READ_ONLY = "READ_ONLY"


@dataclass(frozen=True)
class TpuDataDiskSpec:
    size_gib: int = setting("sizeGib", 100, lo=10, hi=65536, unit="GiB", doc="disk size")
    type: str = setting("type", derived="the generation's first data disk type", doc="disk type the generation "
                                                                                      "attaches")
    mode: DiskMode = setting("mode", derived="READ_WRITE (READ_ONLY on multi-host slices)",
                             doc="a disk shared by every host of a slice must be READ_ONLY")


@dataclass(frozen=True)
class TpuPodSpec:
    """A TPU slice, or several identical slices trained as one job (multislice)."""

    name: str = setting("name", doc="1-24 lowercase letters, digits, `-`; unique")
    accelerator_type: str = setting("acceleratorType", doc="`v4-N`, `v5litepod-N`, `v5p-N`, `v6e-N` with N from "
                                                           "`aiinfra/catalog/data/tpu.json`")
    generation: str = ""
    """Derived from `accelerator_type` (catalog): `v5p`, `v5litepod`, ..."""
    zone: str = setting("zone", "", type_doc="zone", default_doc="required", doc="must offer the generation (catalog)")
    runtime_version: str = setting("runtimeVersion", derived="the generation's first",
                                   doc="must belong to the generation")
    slices: int = setting("slices", 1, lo=1, hi=64, doc="more than 1 is multislice (queued resource)")
    purchase: TpuPurchase = setting("purchase", TpuPurchase.ON_DEMAND,
                                    doc="spot where sold, preemptible v4 only; single slice only")
    queued: bool = setting("queued", derived="`slices > 1` or purchase `spot`",
                           doc="provision through a queued resource (always for multislice; spot by default, so "
                               "`pulumi up` does not wait for spot capacity)")
    reserved: bool = setting("reserved", False, doc="consume the project's TPU reservation")
    data_disks: tuple[TpuDataDiskSpec, ...] = setting("dataDisks", (), doc="single-slice TPU VMs only")

    def __post_init__(self) -> None:
        # The derived defaults, resolved here only: the parser passes what the user wrote.
        if self.queued is None:
            object.__setattr__(self, "queued", queued_by_default(self.slices, self.purchase))
        if self.generation and self.runtime_version is not None and all(d.type and d.mode for d in self.data_disks):
            return
        try:
            sl = tpu_slice(self.accelerator_type)
            gen, hosts = tpu_generation(sl.generation), sl.hosts
        except TpuTypeError:
            gen, hosts = None, 1
        if not self.generation:
            object.__setattr__(self, "generation", gen.name if gen else "")
        if self.runtime_version is None:
            object.__setattr__(self, "runtime_version", gen.runtime_versions[0] if gen else "")
        disk_type = gen.data_disk_types[0] if gen else "pd-balanced"
        mode = DiskMode.READ_ONLY if hosts > 1 else DiskMode.READ_WRITE
        object.__setattr__(self, "data_disks", tuple(replace(d, type=d.type or disk_type, mode=d.mode or mode)
                                                     for d in self.data_disks))


def parse_tpu_pods(r: Reader, raw: Any, region: str, cloud: str) -> tuple[TpuPodSpec, ...]:
    items = r.sequence(raw, "tpuPods")
    if items and cloud != "gcp":
        r.add("tpuPods", f"TPUs exist only on Google Cloud; set cloud: gcp or remove tpuPods (cloud is {cloud!r})")
        return ()
    return r.named_list(items, "tpuPods", lambda obj, path: _parse_tpu_pod(r, obj, path, region))


def _parse_tpu_pod(r: Reader, obj: Mapping[str, Any], path: str, region: str) -> TpuPodSpec:
    r.known_keys(obj, keys(TpuPodSpec), path)
    name = r.name(obj, path, RESOURCE_NAME)
    atype = r.string(obj, "acceleratorType", path, required=True)
    gen = None
    hosts = 1
    if atype:
        try:
            sl = tpu_slice(atype)
            gen = tpu_generation(sl.generation)
            hosts = sl.hosts
        except TpuTypeError as exc:
            r.add(f"{path}.acceleratorType", str(exc), atype)

    zone = parse_zone(r, obj, path, region, required=True)
    if gen is not None and zone and zone not in gen.zones:
        here = gen.region_zones.get(region, ())
        where = (f"in {region}: {', '.join(here)}" if here else
                 f"not in {region}; zones that do: {', '.join(gen.zones)}")
        r.add(f"{path}.zone", f"{zone!r} does not offer TPU {gen.name}; {gen.name} is offered {where}", zone)

    runtime = get(r, TpuPodSpec, "runtime_version", obj, path, default=gen.runtime_versions[0] if gen else "")
    if gen is not None and runtime not in gen.runtime_versions:
        r.add(f"{path}.runtimeVersion", f"{runtime!r} is not a {gen.name} runtime; expected one of "
                                        f"{', '.join(gen.runtime_versions)}{hint(runtime, gen.runtime_versions)}",
              runtime, tuple(gen.runtime_versions))

    slices = get(r, TpuPodSpec, "slices", obj, path)
    purchase = get(r, TpuPodSpec, "purchase", obj, path)
    queued = get(r, TpuPodSpec, "queued", obj, path, default=queued_by_default(slices, purchase))
    reserved = get(r, TpuPodSpec, "reserved", obj, path)
    if slices > 1 and not queued:
        r.add(f"{path}.queued", f"false, but slices {slices} is multislice, which GCP provisions only through a "
                                "queued resource; remove queued or set it to true", False)
    if gen is not None and purchase is TpuPurchase.SPOT and not gen.spot:
        r.add(f"{path}.purchase", f"'spot' is not sold for TPU {gen.name}; use purchase 'on-demand'", "spot")
    if gen is not None and purchase is TpuPurchase.PREEMPTIBLE and not gen.preemptible:
        alt = "'spot'" if gen.spot else "'on-demand'"
        r.add(f"{path}.purchase", f"'preemptible' is the legacy model and TPU {gen.name} does not take it; "
                                  f"use purchase {alt}", "preemptible")
    if purchase is TpuPurchase.SPOT and slices > 1:
        r.add(f"{path}.purchase", f"'spot' is for one slice; slices {slices} is multislice, which this program "
                                  "requests on-demand only; use slices: 1 or purchase 'on-demand'", "spot")
    if purchase is TpuPurchase.PREEMPTIBLE and (queued or slices > 1):
        # A queued resource's tiers are `spot` and `guaranteed` (TPU v2 QueuedResource); the legacy
        # preemptible model is a TPU VM's schedulingConfig only: refuse, not downgrade.
        r.add(f"{path}.purchase", "'preemptible' cannot be combined with a queued resource (queued or slices > 1): "
                                  "its tiers are spot and guaranteed; use one slice with queued: false, or purchase "
                                  "'spot'", "preemptible")
    if reserved and purchase is not TpuPurchase.ON_DEMAND:
        r.add(f"{path}.reserved", f"true contradicts purchase {purchase.value!r}; reserved capacity is on-demand",
              True)

    disks: list[TpuDataDiskSpec] = []
    for j, item in enumerate(r.sequence(obj.get("dataDisks"), f"{path}.dataDisks")):
        d_path = f"{path}.dataDisks[{j}]"
        d_obj = r.entry(item, d_path)
        if d_obj is None:
            continue
        r.known_keys(d_obj, keys(TpuDataDiskSpec), d_path)
        dtype = get(r, TpuDataDiskSpec, "type", d_obj, d_path, default=gen.data_disk_types[0] if gen else
                    "pd-balanced")
        if gen is not None and dtype not in gen.data_disk_types:
            r.add(f"{d_path}.type", f"{dtype!r} cannot attach to TPU {gen.name}; expected one of "
                                    f"{', '.join(gen.data_disk_types)}", dtype, tuple(gen.data_disk_types))
        mode = get(r, TpuDataDiskSpec, "mode", d_obj, d_path,
                   default=DiskMode.READ_ONLY if hosts > 1 else DiskMode.READ_WRITE)
        if hosts > 1 and mode is DiskMode.READ_WRITE:
            r.add(f"{d_path}.mode", f"'READ_WRITE' is not allowed on {atype!r} ({hosts} hosts): a disk shared by "
                                    "every host of a slice must be 'READ_ONLY'", "READ_WRITE", ("READ_ONLY",))
        disks.append(TpuDataDiskSpec(size_gib=get(r, TpuDataDiskSpec, "size_gib", d_obj, d_path), type=dtype,
                                     mode=mode))
    if disks and queued:
        r.add(f"{path}.dataDisks", "cannot be attached through a queued resource (queued, the default for "
                                   "slices > 1 and spot); use queued: false with one slice (a TPU VM, whose create "
                                   "waits for capacity), or shared storage (Filestore, GCS)")

    return TpuPodSpec(
        name=name or f"tpu{path}", accelerator_type=atype, generation=gen.name if gen else "", zone=zone,
        runtime_version=runtime, slices=slices, purchase=purchase, queued=queued, reserved=reserved,
        data_disks=tuple(disks),
    )

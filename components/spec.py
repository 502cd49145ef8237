"""The typed stack spec: stack config parsed once into frozen models, every problem reported at once.

`load_spec()` is the only place in the program that reads `pulumi.Config`. It hands the
raw values to `parse_spec()`, a pure function (tested without Pulumi) that either returns
a `StackSpec` or raises `ConfigError` listing every problem with its key path, the bad
value and what is allowed.
"""

from __future__ import annotations

import ipaddress
import json
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from aiinfra.catalog import aws_instance_type, aws_instance_types
from components.config_reader import Reader, hint, show
from components.errors import ConfigError
from components.kubernetes.config import KubernetesSpec, parse_kubernetes
from components.network.tiers import Tier, tier_row
from components.workloads.config import WorkloadsSpec, parse_workloads

NAMESPACE = "ai-infra"

# Every project config key the program reads (without the `ai-infra:` namespace).
# `Pulumi.yaml` declares the same keys; a test keeps the two in step.
PROJECT_KEYS: tuple[str, ...] = (
    "cloud",
    "environment",
    "tags",
    "network",
    "storage",
    "gpuGroups",
    "kubernetes",
    "workloads",
)


class Cloud(str, Enum):
    AWS = "aws"
    GCP = "gcp"


class Environment(str, Enum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class Purchase(str, Enum):
    """How a GPU group buys capacity."""

    ON_DEMAND = "on-demand"
    SPOT = "spot"
    MIXED = "mixed"


class EfsThroughputMode(str, Enum):
    ELASTIC = "elastic"
    BURSTING = "bursting"
    PROVISIONED = "provisioned"


class FsxDeploymentType(str, Enum):
    SCRATCH_2 = "SCRATCH_2"
    PERSISTENT_2 = "PERSISTENT_2"


class AmiFamily(str, Enum):
    """Which public GPU AMI the launch template resolves through SSM."""

    DLAMI = "dlami"
    """AWS Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04)."""
    EKS = "eks"
    """EKS-optimized accelerated Amazon Linux 2023 AMI (NVIDIA)."""


# --------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkSpec:
    cidr: str = "10.0.0.0/16"
    """VPC CIDR; /16 to /20."""
    az_count: int = 2
    """Availability zones the VPC spans (2 to 4)."""
    tier: Tier = Tier.STANDARD
    flow_logs: bool = False
    """VPC flow logs to CloudWatch Logs (default off)."""
    peered_cidrs: tuple[str, ...] = ()
    """Networks this VPC must route to (on-prem, other VPCs); must not overlap `cidr`."""


@dataclass(frozen=True)
class ScheduleSpec:
    """Working hours of a non-prod group; outside them it scales to zero."""

    start: str = "08:00"
    stop: str = "20:00"
    days: str = "MON-FRI"
    timezone: str = "UTC"

    def cron(self, at: str) -> str:
        hour, minute = at.split(":")
        return f"{int(minute)} {int(hour)} * * {self.days}"


@dataclass(frozen=True)
class GpuGroupSpec:
    name: str
    instance_type: str
    extra_instance_types: tuple[str, ...] = ()
    """Alternatives with the same GPU count and model, for spot diversity."""
    min_size: int = 0
    max_size: int = 1
    desired_capacity: int = 0
    purchase: Purchase = Purchase.ON_DEMAND
    on_demand_base_capacity: int = 0
    on_demand_percentage_above_base: int = 100
    root_volume_gib: int = 200
    efa: bool = False
    capacity_reservation_id: str = ""
    capacity_block: bool = False
    schedule: ScheduleSpec | None = None
    ami_family: AmiFamily = AmiFamily.DLAMI
    kubernetes_version: str = "1.33"
    """Only for `amiFamily: eks`: which EKS-optimized AMI line to resolve."""

    @property
    def instance_types(self) -> tuple[str, ...]:
        return (self.instance_type, *self.extra_instance_types)

    @property
    def targets_reserved_capacity(self) -> bool:
        return bool(self.capacity_reservation_id)


@dataclass(frozen=True)
class EfsSpec:
    enabled: bool = True
    throughput_mode: EfsThroughputMode = EfsThroughputMode.ELASTIC
    provisioned_mibps: int = 0
    """Only for `provisioned` mode, MiB/s."""
    transition_to_ia_days: int = 30


@dataclass(frozen=True)
class BucketSpec:
    noncurrent_version_days: int = 30
    """Old checkpoint versions expire after this many days."""
    force_destroy: bool = False


@dataclass(frozen=True)
class FsxSpec:
    enabled: bool = False
    storage_capacity_gib: int = 1200
    deployment_type: FsxDeploymentType = FsxDeploymentType.PERSISTENT_2
    per_unit_storage_throughput: int = 250
    """MB/s per TiB (PERSISTENT_2: 125, 250, 500, 1000)."""


@dataclass(frozen=True)
class StorageSpec:
    efs: EfsSpec = field(default_factory=EfsSpec)
    bucket: BucketSpec = field(default_factory=BucketSpec)
    fsx: FsxSpec = field(default_factory=FsxSpec)


@dataclass(frozen=True)
class StackSpec:
    project: str
    stack: str
    cloud: Cloud
    environment: Environment
    region: str
    tags: Mapping[str, str]
    """Required cost tags (`environment`, `team`, `cost-center`) plus any extras."""
    network: NetworkSpec
    storage: StorageSpec
    gpu_groups: tuple[GpuGroupSpec, ...]
    kubernetes: KubernetesSpec | None = None
    """The cluster (EKS or GKE) and its pools; None when the stack has none."""
    workloads: WorkloadsSpec = field(default_factory=WorkloadsSpec)
    """Training jobs and model servers on the cluster."""

    @property
    def is_prod(self) -> bool:
        return self.environment is Environment.PROD

    @property
    def protect_data(self) -> bool:
        """Data stores get `protect` and `retain_on_delete` in prod."""
        return self.is_prod


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------

REQUIRED_TAGS = ("team", "cost-center")
_NAME = re.compile(r"^[a-z]([a-z0-9-]{0,22}[a-z0-9])?$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_DAYS = re.compile(r"^(\*|(MON|TUE|WED|THU|FRI|SAT|SUN)(-(MON|TUE|WED|THU|FRI|SAT|SUN))?(,(MON|TUE|WED|THU|FRI|SAT|SUN))*)$")
_RESERVATION = re.compile(r"^cr-[0-9a-f]{8,17}$")

_GPU_GROUP_KEYS = (
    "name", "instanceType", "extraInstanceTypes", "minSize", "maxSize", "desiredCapacity",
    "purchase", "onDemandBaseCapacity", "onDemandPercentageAboveBase", "rootVolumeGib", "efa",
    "capacityReservationId", "capacityBlock", "schedule", "amiFamily", "kubernetesVersion",
)
_EKS_AMI_VERSIONS = ("1.31", "1.32", "1.33", "1.34")


def parse_spec(values: Mapping[str, Any], project: str, stack: str) -> StackSpec:
    """Parse raw config values (keys without namespace, plus `aws:region`) into a StackSpec.

    Raises ConfigError with every problem found; never returns a half-valid spec.
    """
    r = Reader()
    cloud = r.choice(values, "cloud", "", Cloud, Cloud.AWS)
    environment = r.choice(values, "environment", "", Environment)
    region = _parse_region(r, values, cloud)
    tags = _parse_tags(r, values.get("tags"), environment)
    network = _parse_network(r, values.get("network"))
    storage = _parse_storage(r, values.get("storage"))
    groups = _parse_gpu_groups(r, values.get("gpuGroups"), network, environment)
    cluster = parse_kubernetes(r, values.get("kubernetes"), cloud.value, tier_row(network.tier).aws.efa)
    workloads = parse_workloads(r, values.get("workloads"), cluster)
    if cloud is Cloud.AWS and workloads.training_jobs and not storage.efs.enabled:
        r.add("storage.efs.enabled", "false, but workloads.trainingJobs keep checkpoints on the shared file system; "
                                     "set it to true")
    if r.problems:
        raise ConfigError(r.problems)
    return StackSpec(
        project=project,
        stack=stack,
        cloud=cloud,
        environment=environment,
        region=region,
        tags=tags,
        network=network,
        storage=storage,
        gpu_groups=groups,
        kubernetes=cluster,
        workloads=workloads,
    )


def _parse_region(r: Reader, values: Mapping[str, Any], cloud: Cloud) -> str:
    key = "aws:region" if cloud is Cloud.AWS else "gcp:region"
    region = values.get(key)
    if region is None:
        r.add(key, f"is required for cloud '{cloud.value}'; set it with `pulumi config set {key} <region>`")
        return ""
    if not isinstance(region, str) or not _REGION.match(region):
        r.add(key, f"{show(region)} is not a region name such as 'us-east-1'")
        return ""
    return region


def _parse_tags(r: Reader, raw: Any, environment: Environment) -> dict[str, str]:
    obj = r.mapping(raw, "tags")
    tags: dict[str, str] = {}
    for key in REQUIRED_TAGS:
        if key not in obj:
            r.add(f"tags.{key}", "is required (every resource is tagged with it for cost allocation)")
    for key, value in obj.items():
        where = f"tags.{key}"
        if key == "environment":
            r.add(where, "is set from `environment`; remove it from tags")
            continue
        if not isinstance(value, str) or not value:
            r.add(where, f"expected a non-empty string, got {show(value)}")
            continue
        if key.lower().startswith("aws:") or len(key) > 128 or len(value) > 256:
            r.add(where, f"{show(value)} is not a valid tag: keys up to 128 characters, not starting with 'aws:', values up to 256")
            continue
        tags[key] = value
    return {"environment": environment.value, **tags}


def _parse_network(r: Reader, raw: Any) -> NetworkSpec:
    obj = r.mapping(raw, "network")
    r.known_keys(obj, ("cidr", "azCount", "tier", "flowLogs", "peeredCidrs"), "network")
    cidr = obj.get("cidr", NetworkSpec.cidr)
    net = r.cidr(cidr, "network.cidr")
    if net is not None and not 16 <= net.prefixlen <= 20:
        r.add("network.cidr", f"{show(cidr)} has prefix /{net.prefixlen}; allowed /16 to /20 (room for private, public and GPU subnets)")
        net = None
    if net is not None and not net.is_private:
        r.add("network.cidr", f"{show(cidr)} is not a private (RFC 1918) range; use e.g. '10.0.0.0/16'")
    peered: list[str] = []
    for i, item in enumerate(r.sequence(obj.get("peeredCidrs"), "network.peeredCidrs")):
        where = f"network.peeredCidrs[{i}]"
        other = r.cidr(item, where)
        if other is None:
            continue
        if net is not None and other.overlaps(net):
            r.add(where, f"{show(item)} overlaps network.cidr {show(cidr)}; peered networks need disjoint ranges")
        for j, prev in enumerate(peered):
            if other.overlaps(ipaddress.IPv4Network(prev)):
                r.add(where, f"{show(item)} overlaps network.peeredCidrs[{j}] {show(prev)}")
        peered.append(str(other))
    return NetworkSpec(
        cidr=str(net) if net is not None else NetworkSpec.cidr,
        az_count=r.integer(obj, "azCount", "network", NetworkSpec.az_count, 2, 4),
        tier=r.choice(obj, "tier", "network", Tier, Tier.STANDARD),
        flow_logs=r.boolean(obj, "flowLogs", "network", False),
        peered_cidrs=tuple(peered),
    )


def _parse_storage(r: Reader, raw: Any) -> StorageSpec:
    obj = r.mapping(raw, "storage")
    r.known_keys(obj, ("efs", "bucket", "fsxLustre"), "storage")

    efs_obj = r.mapping(obj.get("efs"), "storage.efs")
    r.known_keys(efs_obj, ("enabled", "throughputMode", "provisionedMibps", "transitionToIaDays"), "storage.efs")
    mode = r.choice(efs_obj, "throughputMode", "storage.efs", EfsThroughputMode, EfsThroughputMode.ELASTIC)
    mibps = r.integer(efs_obj, "provisionedMibps", "storage.efs", 0, 0, 10240, "MiB/s")
    if mode is EfsThroughputMode.PROVISIONED and mibps < 1:
        r.add("storage.efs.provisionedMibps", "is required (1..10240 MiB/s) when throughputMode is 'provisioned'")
    if mode is not EfsThroughputMode.PROVISIONED and mibps:
        r.add("storage.efs.provisionedMibps", f"{mibps} is only used with throughputMode 'provisioned', not {mode.value!r}; remove it")
    ia_days = r.integer(efs_obj, "transitionToIaDays", "storage.efs", 30)
    if ia_days not in (1, 7, 14, 30, 60, 90, 180, 270, 365):
        r.add("storage.efs.transitionToIaDays", f"{ia_days} is not allowed; expected one of 1, 7, 14, 30, 60, 90, 180, 270, 365")
        ia_days = 30
    efs = EfsSpec(
        enabled=r.boolean(efs_obj, "enabled", "storage.efs", True),
        throughput_mode=mode,
        provisioned_mibps=mibps,
        transition_to_ia_days=ia_days,
    )

    b_obj = r.mapping(obj.get("bucket"), "storage.bucket")
    r.known_keys(b_obj, ("noncurrentVersionDays", "forceDestroy"), "storage.bucket")
    bucket = BucketSpec(
        noncurrent_version_days=r.integer(b_obj, "noncurrentVersionDays", "storage.bucket", 30, 1, 3650, "days"),
        force_destroy=r.boolean(b_obj, "forceDestroy", "storage.bucket", False),
    )

    f_obj = r.mapping(obj.get("fsxLustre"), "storage.fsxLustre")
    r.known_keys(f_obj, ("enabled", "storageCapacityGib", "deploymentType", "perUnitStorageThroughput"), "storage.fsxLustre")
    deployment = r.choice(f_obj, "deploymentType", "storage.fsxLustre", FsxDeploymentType, FsxDeploymentType.PERSISTENT_2)
    capacity = r.integer(f_obj, "storageCapacityGib", "storage.fsxLustre", 1200, 1200, None, "GiB")
    if capacity != 1200 and capacity % 2400:
        r.add("storage.fsxLustre.storageCapacityGib", f"{capacity} is not allowed; FSx for Lustre takes 1200 or a multiple of 2400 GiB")
    throughput = r.integer(f_obj, "perUnitStorageThroughput", "storage.fsxLustre", 250)
    if deployment is FsxDeploymentType.PERSISTENT_2 and throughput not in (125, 250, 500, 1000):
        r.add("storage.fsxLustre.perUnitStorageThroughput", f"{throughput} is not allowed for PERSISTENT_2; expected one of 125, 250, 500, 1000 (MB/s per TiB)")
    fsx = FsxSpec(
        enabled=r.boolean(f_obj, "enabled", "storage.fsxLustre", False),
        storage_capacity_gib=capacity,
        deployment_type=deployment,
        per_unit_storage_throughput=throughput,
    )
    return StorageSpec(efs=efs, bucket=bucket, fsx=fsx)


def _parse_gpu_groups(r: Reader, raw: Any, network: NetworkSpec, env: Environment) -> tuple[GpuGroupSpec, ...]:
    groups: list[GpuGroupSpec] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(r.sequence(raw, "gpuGroups")):
        path = f"gpuGroups[{i}]"
        obj = r.mapping(item, path)
        if not obj:
            continue
        group = _parse_gpu_group(r, obj, path, network, env)
        if group.name in seen:
            r.add(f"{path}.name", f"{group.name!r} is already used by gpuGroups[{seen[group.name]}]; names must be unique")
        seen.setdefault(group.name, i)
        groups.append(group)
    return tuple(groups)


def _parse_gpu_group(r: Reader, obj: Mapping[str, Any], path: str, network: NetworkSpec, env: Environment) -> GpuGroupSpec:
    r.known_keys(obj, _GPU_GROUP_KEYS, path)
    name = r.string(obj, "name", path, required=True)
    if name and not _NAME.match(name):
        r.add(f"{path}.name", f"{name!r} is not allowed; use 1-24 lowercase letters, digits and '-', starting with a letter")

    known = aws_instance_types()
    itype = r.string(obj, "instanceType", path, required=True)
    facts = aws_instance_type(itype) if itype else None
    if itype and facts is None:
        r.add(f"{path}.instanceType", f"{itype!r} is not a known GPU instance type{hint(itype, known)}")

    extras: list[str] = []
    for j, extra in enumerate(r.sequence(obj.get("extraInstanceTypes"), f"{path}.extraInstanceTypes")):
        where = f"{path}.extraInstanceTypes[{j}]"
        other = aws_instance_type(extra) if isinstance(extra, str) else None
        if other is None:
            r.add(where, f"{show(extra)} is not a known GPU instance type{hint(str(extra), known)}")
            continue
        if facts is not None and (other.gpu_count, other.accelerator) != (facts.gpu_count, facts.accelerator):
            r.add(where, f"{extra!r} has {other.gpu_count} x {other.accelerator}, but {itype!r} has "
                         f"{facts.gpu_count} x {facts.accelerator}; alternatives must offer the same GPUs")
            continue
        extras.append(extra)

    min_size = r.integer(obj, "minSize", path, 0, 0, 1000)
    max_size = r.integer(obj, "maxSize", path, max(min_size, 1), 0, 1000)
    desired = r.integer(obj, "desiredCapacity", path, min_size, 0, 1000)
    if not min_size <= desired <= max_size:
        r.add(path, f"minSize {min_size}, desiredCapacity {desired}, maxSize {max_size} are out of order; need minSize <= desiredCapacity <= maxSize")

    purchase = r.choice(obj, "purchase", path, Purchase, Purchase.ON_DEMAND)
    base = r.integer(obj, "onDemandBaseCapacity", path, 0, 0, 1000)
    default_pct = {Purchase.ON_DEMAND: 100, Purchase.SPOT: 0, Purchase.MIXED: 50}[purchase]
    pct = r.integer(obj, "onDemandPercentageAboveBase", path, default_pct, 0, 100, "percent")
    if purchase is Purchase.SPOT and base:
        r.add(f"{path}.onDemandBaseCapacity", f"{base} contradicts purchase 'spot' (spot-only groups have no on-demand base); set it to 0 or use purchase 'mixed'")
    if purchase is Purchase.SPOT and pct:
        r.add(f"{path}.onDemandPercentageAboveBase", f"{pct} contradicts purchase 'spot'; set it to 0 or use purchase 'mixed'")
    if purchase is Purchase.ON_DEMAND and pct != 100:
        r.add(f"{path}.onDemandPercentageAboveBase", f"{pct} contradicts purchase 'on-demand' (100 percent); use purchase 'mixed' for a spot share")
    if base > max_size:
        r.add(f"{path}.onDemandBaseCapacity", f"{base} exceeds maxSize {max_size}")

    root = r.integer(obj, "rootVolumeGib", path, 200, 75, 16384, "GiB")

    reservation = r.string(obj, "capacityReservationId", path)
    capacity_block = r.boolean(obj, "capacityBlock", path, False)
    if reservation and not _RESERVATION.match(reservation):
        r.add(f"{path}.capacityReservationId", f"{reservation!r} is not a capacity reservation id such as 'cr-0123456789abcdef0'")
    if capacity_block and not reservation:
        r.add(f"{path}.capacityBlock", "true needs capacityReservationId (the id of the purchased Capacity Block)")
    if reservation and purchase is not Purchase.ON_DEMAND:
        r.add(f"{path}.purchase", f"'{purchase.value}' cannot target a capacity reservation; reserved capacity is on-demand only")
    if reservation and extras:
        r.add(f"{path}.extraInstanceTypes", "must be empty when targeting a capacity reservation (it is for one instance type)")
    if facts is not None and facts.capacity_blocks_only and not capacity_block:
        r.add(f"{path}.instanceType", f"{itype!r} is sold only through EC2 Capacity Blocks; set capacityBlock: true and capacityReservationId")

    tier = tier_row(network.tier)
    efa_default = tier.aws.efa and facts is not None and facts.supports_efa
    efa = r.boolean(obj, "efa", path, efa_default)
    if facts is not None:
        if efa and not facts.supports_efa:
            capable = sorted(n for n, t in aws_instance_types().items() if t.supports_efa and t.accelerator == facts.accelerator)
            alt = f" such as {capable[0]!r}" if capable else ""
            r.add(f"{path}.efa", f"true, but {itype!r} has no EFA support; use an EFA-capable type{alt} or set efa: false")
        if network.tier is Tier.ULTRA and not facts.supports_efa:
            capable = sorted(n for n, t in aws_instance_types().items() if t.supports_efa and t.accelerator == facts.accelerator)
            alt = f" (with the same GPU: {', '.join(capable[:3])})" if capable else ""
            r.add(f"{path}.instanceType", f"{itype!r} has no EFA, which network.tier 'ultra' requires; choose an EFA-capable type{alt} or tier 'enhanced'")
        for extra in extras:
            other = aws_instance_type(extra)
            if efa and other is not None and other.efa_interfaces != facts.efa_interfaces:
                r.add(f"{path}.extraInstanceTypes", f"{extra!r} takes {other.efa_interfaces} EFA interfaces, {itype!r} takes {facts.efa_interfaces}; one launch template cannot serve both")

    schedule = _parse_schedule(r, obj.get("schedule"), f"{path}.schedule", env)
    if schedule is not None and min_size > 0 and purchase is Purchase.ON_DEMAND and reservation:
        r.add(f"{path}.schedule", "cannot scale reserved capacity to zero (it is paid for either way); remove the schedule")

    ami = r.choice(obj, "amiFamily", path, AmiFamily, AmiFamily.DLAMI)
    k8s = r.string(obj, "kubernetesVersion", path, "1.33")
    if k8s not in _EKS_AMI_VERSIONS:
        r.add(f"{path}.kubernetesVersion", f"{k8s!r} is not allowed; expected one of {', '.join(_EKS_AMI_VERSIONS)}")

    return GpuGroupSpec(
        name=name or f"group{path}",
        instance_type=itype,
        extra_instance_types=tuple(extras),
        min_size=min_size,
        max_size=max_size,
        desired_capacity=desired,
        purchase=purchase,
        on_demand_base_capacity=base,
        on_demand_percentage_above_base=pct,
        root_volume_gib=root,
        efa=efa,
        capacity_reservation_id=reservation,
        capacity_block=capacity_block,
        schedule=schedule,
        ami_family=ami,
        kubernetes_version=k8s,
    )


def _parse_schedule(r: Reader, raw: Any, path: str, env: Environment) -> ScheduleSpec | None:
    if raw is None:
        return None
    obj = r.mapping(raw, path)
    r.known_keys(obj, ("start", "stop", "days", "timezone"), path)
    if env is Environment.PROD:
        r.add(path, "scale-to-zero schedules are for non-prod stacks; prod capacity follows its sizes")
    start = r.string(obj, "start", path, "08:00")
    stop = r.string(obj, "stop", path, "20:00")
    for key, value in (("start", start), ("stop", stop)):
        if not _HHMM.match(value):
            r.add(f"{path}.{key}", f"{value!r} is not a time of day; expected 'HH:MM' (24 h)")
    if _HHMM.match(start) and start == stop:
        r.add(path, f"start and stop are both {start!r}; the group would never run")
    days = r.string(obj, "days", path, "MON-FRI")
    if not _DAYS.match(days):
        r.add(f"{path}.days", f"{days!r} is not a day list; expected e.g. 'MON-FRI', 'MON,WED,FRI' or '*'")
    tz = r.string(obj, "timezone", path, "UTC")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        r.add(f"{path}.timezone", f"{tz!r} is not an IANA time zone such as 'Europe/Berlin' or 'UTC'")
    return ScheduleSpec(start=start, stop=stop, days=days, timezone=tz)


# --------------------------------------------------------------------------------------
# Reading Pulumi config (the only place that does)
# --------------------------------------------------------------------------------------


def load_spec() -> StackSpec:
    """Read the current stack's config once and parse it. Raises ConfigError."""
    import pulumi

    cfg = pulumi.Config(NAMESPACE)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key in PROJECT_KEYS:
        raw = cfg.get(key)
        if raw is None:
            continue
        values[key] = _decode(raw, key, problems)
    for provider_key in ("aws:region", "gcp:region", "gcp:project"):
        ns, key = provider_key.split(":")
        value = pulumi.Config(ns).get(key)
        if value is not None:
            values[provider_key] = value
    if problems:
        raise ConfigError(problems)
    return parse_spec(values, pulumi.get_project(), pulumi.get_stack())


def _decode(raw: str, key: str, problems: list[str]) -> Any:
    """Structured config arrives as JSON text; scalars as plain strings."""
    text = raw.strip()
    if text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"{key}: is not valid structured config ({exc.msg} at position {exc.pos})")
            return None
    return raw

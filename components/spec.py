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
from enum import StrEnum
from typing import Any

from aiinfra.catalog import aws_instance_type, aws_instance_types
from aiinfra.catalog.usage import usage_problems
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
    "usage",
    "kubernetes",
    "workloads",
    "tpuPods",
    "images",
)


class Cloud(StrEnum):
    AWS = "aws"
    GCP = "gcp"


class Environment(StrEnum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class Purchase(StrEnum):
    """How a GPU group buys capacity."""

    ON_DEMAND = "on-demand"
    SPOT = "spot"
    MIXED = "mixed"


class EfsThroughputMode(StrEnum):
    ELASTIC = "elastic"
    BURSTING = "bursting"
    PROVISIONED = "provisioned"


class FsxDeploymentType(StrEnum):
    SCRATCH_2 = "SCRATCH_2"
    PERSISTENT_2 = "PERSISTENT_2"


class AmiFamily(StrEnum):
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


# --------------------------------------------------------------------------------------
# GCP models (cloud: gcp)
# --------------------------------------------------------------------------------------


class BootDiskType(StrEnum):
    PD_BALANCED = "pd-balanced"
    PD_SSD = "pd-ssd"
    PD_STANDARD = "pd-standard"
    HYPERDISK_BALANCED = "hyperdisk-balanced"


class FilestoreTierName(StrEnum):
    BASIC_HDD = "BASIC_HDD"
    BASIC_SSD = "BASIC_SSD"
    ZONAL = "ZONAL"
    REGIONAL = "REGIONAL"
    ENTERPRISE = "ENTERPRISE"


class TpuPurchase(StrEnum):
    """How a TPU slice is bought."""

    ON_DEMAND = "on-demand"
    SPOT = "spot"
    PREEMPTIBLE = "preemptible"
    """Legacy preemptible TPUs (v4 and older); newer generations sell spot."""


class DiskMode(StrEnum):
    READ_WRITE = "READ_WRITE"
    READ_ONLY = "READ_ONLY"


@dataclass(frozen=True)
class GcpAutoscalingSpec:
    min_size: int = 0
    max_size: int = 1
    cpu_utilization: float = 0.6
    """Target average CPU utilization (0.1..0.95) the autoscaler holds."""
    cooldown_seconds: int = 300
    """Seconds a new VM gets before its metrics count (GPU drivers and images load slowly)."""


@dataclass(frozen=True)
class GcpGpuGroupSpec:
    """A GCP GPU managed instance group (cloud: gcp)."""

    name: str
    machine_type: str
    """A3/A2/G2 (GPUs bundled) or N1 with `accelerator_type` x `accelerator_count`."""
    accelerator_type: str = ""
    """N1 only: e.g. `nvidia-tesla-t4`."""
    accelerator_count: int = 0
    zone: str = ""
    """Zonal group in this zone (required for compact placement); else regional, optionally pinned here."""
    target_size: int = 1
    autoscaling: GcpAutoscalingSpec | None = None
    purchase: Purchase = Purchase.ON_DEMAND
    """`on-demand` (STANDARD provisioning) or `spot` (SPOT provisioning)."""
    boot_disk_gib: int = 200
    boot_disk_type: BootDiskType = BootDiskType.PD_BALANCED
    reservation: str = ""
    """Consume this specific reservation (name); empty: any matching reservation is not required."""

    @property
    def gpu_count(self) -> int:
        from aiinfra.catalog.gcp import gcp_machine_type

        facts = gcp_machine_type(self.machine_type)
        return facts.gpu_count if facts is not None else self.accelerator_count


@dataclass(frozen=True)
class TpuDataDiskSpec:
    size_gib: int = 100
    type: str = "pd-balanced"
    mode: DiskMode = DiskMode.READ_WRITE


@dataclass(frozen=True)
class TpuPodSpec:
    """A TPU slice, or several identical slices trained as one job (multislice)."""

    name: str
    accelerator_type: str
    """E.g. `v5litepod-8`, `v5p-128`, `v6e-256` (see aiinfra.catalog.tpu)."""
    generation: str
    zone: str
    runtime_version: str
    slices: int = 1
    purchase: TpuPurchase = TpuPurchase.ON_DEMAND
    queued: bool = False
    """Provision through a queued resource (always true for multislice)."""
    reserved: bool = False
    """Consume the project's TPU reservation (capacity already bought)."""
    data_disks: tuple[TpuDataDiskSpec, ...] = ()


@dataclass(frozen=True)
class FilestoreSpec:
    enabled: bool = False
    tier: FilestoreTierName = FilestoreTierName.BASIC_HDD
    capacity_gib: int = 1024
    zone: str = ""
    """Zonal tiers (BASIC_*, ZONAL) live in this zone; regional tiers in the stack's region."""
    share_name: str = "shared"


@dataclass(frozen=True)
class StorageSpec:
    efs: EfsSpec = field(default_factory=EfsSpec)
    bucket: BucketSpec = field(default_factory=BucketSpec)
    fsx: FsxSpec = field(default_factory=FsxSpec)
    filestore: FilestoreSpec = field(default_factory=FilestoreSpec)
    """GCP only."""


class ImagePlatform(StrEnum):
    LINUX_AMD64 = "linux/amd64"
    LINUX_ARM64 = "linux/arm64"


@dataclass(frozen=True)
class ImagesSpec:
    """Registries for training_images/ and whether `pulumi up` builds them (see components/images.py)."""

    registry: bool = False
    """Create the image repositories (ECR / Artifact Registry) in this stack (default off: one stack per
    account owns them)."""
    build: bool = False
    """Build and push training_images/* during `pulumi up` (default off: CI builds them)."""
    repository_prefix: str = "ai-infra"
    """Repositories are `<prefix>/<image>` (ECR) or the Artifact Registry repository `<prefix>`."""
    keep_last: int = 30
    """Lifecycle: keep this many most recent images per repository."""
    untagged_expiry_days: int = 7
    """Lifecycle: untagged images expire after this many days."""
    platform: ImagePlatform = ImagePlatform.LINUX_AMD64
    """Build platform (with `build`)."""


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
    usage: Mapping[str, Any] = field(default_factory=dict)
    """`ai-infra:usage` as written (validated): cost assumptions read by `aiinfra cost`, not by components."""
    kubernetes: KubernetesSpec | None = None
    """The cluster (EKS or GKE) and its pools; None when the stack has none."""
    workloads: WorkloadsSpec = field(default_factory=WorkloadsSpec)
    """Training jobs and model servers on the cluster."""
    gcp_project: str = ""
    """`gcp:project` (GCP only)."""
    gcp_gpu_groups: tuple[GcpGpuGroupSpec, ...] = ()
    """GCP GPU groups (empty on AWS)."""
    tpu_pods: tuple[TpuPodSpec, ...] = ()
    """TPU slices (GCP only)."""
    images: ImagesSpec = field(default_factory=ImagesSpec)
    """Image registries and optional in-stack builds."""

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
_DAY = "(MON|TUE|WED|THU|FRI|SAT|SUN)"
_DAYS = re.compile(rf"^(\*|{_DAY}(-{_DAY})?(,{_DAY})*)$")
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
    gcp_project = _parse_gcp_project(r, values) if cloud is Cloud.GCP else ""
    tags = _parse_tags(r, values.get("tags"), environment, cloud)
    usage = _parse_usage(r, values.get("usage"))
    network = _parse_network(r, values.get("network"), cloud)
    storage = _parse_storage(r, values.get("storage"), cloud, region)
    groups: tuple[GpuGroupSpec, ...] = ()
    gcp_groups: tuple[GcpGpuGroupSpec, ...] = ()
    if cloud is Cloud.GCP:
        gcp_groups = _parse_gcp_gpu_groups(r, values.get("gpuGroups"), network, region)
    else:
        groups = _parse_gpu_groups(r, values.get("gpuGroups"), network, environment)
    tpu_pods = _parse_tpu_pods(r, values.get("tpuPods"), region, cloud)
    cluster = parse_kubernetes(r, values.get("kubernetes"), cloud.value, tier_row(network.tier).aws.efa,
                               region)
    workloads = parse_workloads(r, values.get("workloads"), cluster)
    images = _parse_images(r, values.get("images"))
    for i, job in enumerate(workloads.training_jobs):
        # Without a stack Filestore the CSI class provisions one per claim, from 1 TiB.
        if cloud is Cloud.GCP and not storage.filestore.enabled and job.shared_storage_gib < 1024:
            r.add(f"workloads.trainingJobs[{i}].sharedStorageGib", f"{job.shared_storage_gib} is below the "
                  "1024 GiB a Filestore CSI volume (standard-rwx) starts at; raise it, or enable "
                  "storage.filestore so jobs share the stack's instance")
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
        usage=usage,
        kubernetes=cluster,
        workloads=workloads,
        gcp_project=gcp_project,
        gcp_gpu_groups=gcp_groups,
        tpu_pods=tpu_pods,
        images=images,
    )


def _parse_usage(r: Reader, raw: Any) -> dict[str, Any]:
    """The cost assumptions block; its schema and defaults live with the estimator (aiinfra/costs/usage.py)."""
    problems = usage_problems(raw, "usage")
    r.problems.extend(problems)
    return dict(raw) if isinstance(raw, Mapping) and not problems else {}


def _parse_region(r: Reader, values: Mapping[str, Any], cloud: Cloud) -> str:
    key = "aws:region" if cloud is Cloud.AWS else "gcp:region"
    region = values.get(key)
    if region is None:
        r.add(key, f"is required for cloud '{cloud.value}'; set it with `pulumi config set {key} <region>`")
        return ""
    if cloud is Cloud.GCP:
        if not isinstance(region, str) or not _GCP_REGION.match(region):
            r.add(key, f"{show(region)} is not a GCP region name such as 'us-central1'")
            return ""
        return region
    if not isinstance(region, str) or not _REGION.match(region):
        r.add(key, f"{show(region)} is not a region name such as 'us-east-1'")
        return ""
    return region


def _parse_tags(r: Reader, raw: Any, environment: Environment, cloud: Cloud = Cloud.AWS) -> dict[str, str]:
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
            r.add(where, f"{show(value)} is not a valid tag: keys up to 128 characters, not starting with 'aws:', "
                         "values up to 256")
            continue
        # GCP labels are stricter than AWS tags; the same cost tags must survive as labels.
        if cloud is Cloud.GCP and not _parse_gcp_label(r, where, key, value):
            continue
        tags[key] = value
    return {"environment": environment.value, **tags}


def _parse_network(r: Reader, raw: Any, cloud: Cloud = Cloud.AWS) -> NetworkSpec:
    obj = r.mapping(raw, "network")
    r.known_keys(obj, ("cidr", "azCount", "tier", "flowLogs", "peeredCidrs"), "network")
    if cloud is Cloud.GCP and "azCount" in obj:
        r.add("network.azCount", "is AWS-only (GCP subnets span every zone of the region); remove it")
    cidr = obj.get("cidr", NetworkSpec.cidr)
    net = r.cidr(cidr, "network.cidr")
    if net is not None and not 16 <= net.prefixlen <= 20:
        r.add("network.cidr", f"{show(cidr)} has prefix /{net.prefixlen}; allowed /16 to /20 (room for private, "
                              "public and GPU subnets)")
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


def _parse_storage(r: Reader, raw: Any, cloud: Cloud = Cloud.AWS, region: str = "") -> StorageSpec:
    obj = r.mapping(raw, "storage")
    if cloud is Cloud.GCP:
        for key in ("efs", "fsxLustre"):
            if key in obj:
                r.add(f"storage.{key}",
                      "is AWS-only; on cloud 'gcp' use storage.filestore (and storage.bucket for GCS)")
        r.known_keys({k: v for k, v in obj.items() if k not in ("efs", "fsxLustre")}, ("bucket", "filestore"),
                     "storage")
        return StorageSpec(efs=EfsSpec(enabled=False), bucket=_parse_bucket(r, obj),
                           filestore=_parse_filestore(r, obj.get("filestore"), region))
    if "filestore" in obj:
        r.add("storage.filestore", "is GCP-only; on cloud 'aws' use storage.efs or storage.fsxLustre")
    r.known_keys({k: v for k, v in obj.items() if k != "filestore"}, ("efs", "bucket", "fsxLustre"), "storage")

    efs_obj = r.mapping(obj.get("efs"), "storage.efs")
    r.known_keys(efs_obj, ("enabled", "throughputMode", "provisionedMibps", "transitionToIaDays"), "storage.efs")
    mode = r.choice(efs_obj, "throughputMode", "storage.efs", EfsThroughputMode, EfsThroughputMode.ELASTIC)
    mibps = r.integer(efs_obj, "provisionedMibps", "storage.efs", 0, 0, 10240, "MiB/s")
    if mode is EfsThroughputMode.PROVISIONED and mibps < 1:
        r.add("storage.efs.provisionedMibps", "is required (1..10240 MiB/s) when throughputMode is 'provisioned'")
    if mode is not EfsThroughputMode.PROVISIONED and mibps:
        r.add("storage.efs.provisionedMibps", f"{mibps} is only used with throughputMode 'provisioned', not "
                                              f"{mode.value!r}; remove it")
    ia_days = r.integer(efs_obj, "transitionToIaDays", "storage.efs", 30)
    if ia_days not in (1, 7, 14, 30, 60, 90, 180, 270, 365):
        r.add("storage.efs.transitionToIaDays", f"{ia_days} is not allowed; expected one of 1, 7, 14, 30, 60, 90, "
                                                "180, 270, 365")
        ia_days = 30
    efs = EfsSpec(
        enabled=r.boolean(efs_obj, "enabled", "storage.efs", True),
        throughput_mode=mode,
        provisioned_mibps=mibps,
        transition_to_ia_days=ia_days,
    )

    bucket = _parse_bucket(r, obj)

    f_obj = r.mapping(obj.get("fsxLustre"), "storage.fsxLustre")
    r.known_keys(f_obj, ("enabled", "storageCapacityGib", "deploymentType", "perUnitStorageThroughput"),
                 "storage.fsxLustre")
    deployment = r.choice(f_obj, "deploymentType", "storage.fsxLustre", FsxDeploymentType,
                          FsxDeploymentType.PERSISTENT_2)
    capacity = r.integer(f_obj, "storageCapacityGib", "storage.fsxLustre", 1200, 1200, None, "GiB")
    if capacity != 1200 and capacity % 2400:
        r.add("storage.fsxLustre.storageCapacityGib", f"{capacity} is not allowed; FSx for Lustre takes 1200 or a "
                                                      "multiple of 2400 GiB")
    throughput = r.integer(f_obj, "perUnitStorageThroughput", "storage.fsxLustre", 250)
    if deployment is FsxDeploymentType.PERSISTENT_2 and throughput not in (125, 250, 500, 1000):
        r.add("storage.fsxLustre.perUnitStorageThroughput", f"{throughput} is not allowed for PERSISTENT_2; expected "
                                                            "one of 125, 250, 500, 1000 (MB/s per TiB)")
    fsx = FsxSpec(
        enabled=r.boolean(f_obj, "enabled", "storage.fsxLustre", False),
        storage_capacity_gib=capacity,
        deployment_type=deployment,
        per_unit_storage_throughput=throughput,
    )
    return StorageSpec(efs=efs, bucket=bucket, fsx=fsx)


def _parse_bucket(r: Reader, storage: Mapping[str, Any]) -> BucketSpec:
    """`storage.bucket`: the S3 bucket on AWS, the GCS bucket on GCP (same keys)."""
    b_obj = r.mapping(storage.get("bucket"), "storage.bucket")
    r.known_keys(b_obj, ("noncurrentVersionDays", "forceDestroy"), "storage.bucket")
    return BucketSpec(
        noncurrent_version_days=r.integer(b_obj, "noncurrentVersionDays", "storage.bucket", 30, 1, 3650, "days"),
        force_destroy=r.boolean(b_obj, "forceDestroy", "storage.bucket", False),
    )


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
            r.add(f"{path}.name", f"{group.name!r} is already used by gpuGroups[{seen[group.name]}]; names must be "
                                  "unique")
        seen.setdefault(group.name, i)
        groups.append(group)
    return tuple(groups)


def _parse_gpu_group(r: Reader, obj: Mapping[str, Any], path: str, network: NetworkSpec,
                     env: Environment) -> GpuGroupSpec:
    r.known_keys(obj, _GPU_GROUP_KEYS, path)
    name = r.string(obj, "name", path, required=True)
    if name and not _NAME.match(name):
        r.add(f"{path}.name", f"{name!r} is not allowed; use 1-24 lowercase letters, digits and '-', starting with a "
                              "letter")

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
        r.add(path, f"minSize {min_size}, desiredCapacity {desired}, maxSize {max_size} are out of order; need "
                    "minSize <= desiredCapacity <= maxSize")

    purchase = r.choice(obj, "purchase", path, Purchase, Purchase.ON_DEMAND)
    base = r.integer(obj, "onDemandBaseCapacity", path, 0, 0, 1000)
    default_pct = {Purchase.ON_DEMAND: 100, Purchase.SPOT: 0, Purchase.MIXED: 50}[purchase]
    pct = r.integer(obj, "onDemandPercentageAboveBase", path, default_pct, 0, 100, "percent")
    if purchase is Purchase.SPOT and base:
        r.add(f"{path}.onDemandBaseCapacity", f"{base} contradicts purchase 'spot' (spot-only groups have no "
                                              "on-demand base); set it to 0 or use purchase 'mixed'")
    if purchase is Purchase.SPOT and pct:
        r.add(f"{path}.onDemandPercentageAboveBase", f"{pct} contradicts purchase 'spot'; set it to 0 or use "
                                                     "purchase 'mixed'")
    if purchase is Purchase.ON_DEMAND and pct != 100:
        r.add(f"{path}.onDemandPercentageAboveBase", f"{pct} contradicts purchase 'on-demand' (100 percent); use "
                                                     "purchase 'mixed' for a spot share")
    if base > max_size:
        r.add(f"{path}.onDemandBaseCapacity", f"{base} exceeds maxSize {max_size}")

    root = r.integer(obj, "rootVolumeGib", path, 200, 75, 16384, "GiB")

    reservation = r.string(obj, "capacityReservationId", path)
    capacity_block = r.boolean(obj, "capacityBlock", path, False)
    if reservation and not _RESERVATION.match(reservation):
        r.add(f"{path}.capacityReservationId", f"{reservation!r} is not a capacity reservation id such as "
                                               "'cr-0123456789abcdef0'")
    if capacity_block and not reservation:
        r.add(f"{path}.capacityBlock", "true needs capacityReservationId (the id of the purchased Capacity Block)")
    if reservation and purchase is not Purchase.ON_DEMAND:
        r.add(f"{path}.purchase", f"'{purchase.value}' cannot target a capacity reservation; reserved capacity is "
                                  "on-demand only")
    if reservation and extras:
        r.add(f"{path}.extraInstanceTypes", "must be empty when targeting a capacity reservation (it is for one "
                                            "instance type)")
    if facts is not None and facts.capacity_blocks_only and not capacity_block:
        r.add(f"{path}.instanceType", f"{itype!r} is sold only through EC2 Capacity Blocks; set capacityBlock: true "
                                      "and capacityReservationId")

    tier = tier_row(network.tier)
    efa_default = tier.aws.efa and facts is not None and facts.supports_efa
    efa = r.boolean(obj, "efa", path, efa_default)
    if facts is not None:
        if efa and not facts.supports_efa:
            capable = _efa_capable_like(facts.accelerator)
            alt = f" such as {capable[0]!r}" if capable else ""
            r.add(f"{path}.efa", f"true, but {itype!r} has no EFA support; use an EFA-capable type{alt} or set efa: "
                                 "false")
        if network.tier is Tier.ULTRA and not facts.supports_efa:
            capable = _efa_capable_like(facts.accelerator)
            alt = f" (with the same GPU: {', '.join(capable[:3])})" if capable else ""
            r.add(f"{path}.instanceType", f"{itype!r} has no EFA, which network.tier 'ultra' requires; choose an "
                                          f"EFA-capable type{alt} or tier 'enhanced'")
        for extra in extras:
            other = aws_instance_type(extra)
            if efa and other is not None and other.efa_interfaces != facts.efa_interfaces:
                r.add(f"{path}.extraInstanceTypes",
                      f"{extra!r} takes {other.efa_interfaces} EFA interfaces, {itype!r} takes "
                      f"{facts.efa_interfaces}; one launch template cannot serve both")

    schedule = _parse_schedule(r, obj.get("schedule"), f"{path}.schedule", env)
    if schedule is not None and min_size > 0 and purchase is Purchase.ON_DEMAND and reservation:
        r.add(f"{path}.schedule", "cannot scale reserved capacity to zero (it is paid for either way); remove the "
                                  "schedule")

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


def _efa_capable_like(accelerator: str) -> list[str]:
    """EFA-capable instance types with the same GPU, for suggestions."""
    return sorted(n for n, t in aws_instance_types().items() if t.supports_efa and t.accelerator == accelerator)


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
# GCP parsing (cloud: gcp)
# --------------------------------------------------------------------------------------

_GCP_REGION = re.compile(r"^[a-z]+(-[a-z]+)+\d+$")
_GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_GCP_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_GCP_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_GCP_RESERVATION = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_SHARE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,15}$")

_GCP_GPU_GROUP_KEYS = (
    "name", "machineType", "acceleratorType", "acceleratorCount", "zone", "targetSize", "autoscaling",
    "purchase", "bootDiskGib", "bootDiskType", "reservation",
)
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
_TPU_KEYS = ("name", "acceleratorType", "zone", "runtimeVersion", "slices", "purchase", "queued", "reserved",
             "dataDisks")


def gcp_label_suggestion(value: str) -> str:
    """A value GCP accepts as a label, closest to the one given."""
    out = re.sub(r"[^a-z0-9_-]", "-", value.lower())[:63]
    return out


def _parse_gcp_label(r: Reader, where: str, key: str, value: str) -> bool:
    if not _GCP_LABEL_KEY.match(key):
        r.add(where, f"{key!r} is not a valid GCP label key: 1-63 lowercase letters, digits, '_' and '-', "
                     f"starting with a letter; did you mean {gcp_label_suggestion(key)!r}?")
        return False
    if not _GCP_LABEL_VALUE.match(value):
        r.add(where, f"{value!r} is not a valid GCP label value: up to 63 lowercase letters, digits, '_' and '-'; "
                     f"did you mean {gcp_label_suggestion(value)!r}?")
        return False
    return True


def _parse_gcp_project(r: Reader, values: Mapping[str, Any]) -> str:
    project = values.get("gcp:project")
    if project is None:
        r.add("gcp:project", "is required for cloud 'gcp'; set it with `pulumi config set gcp:project <project-id>`")
        return ""
    if not isinstance(project, str) or not _GCP_PROJECT.match(project):
        r.add("gcp:project", f"{show(project)} is not a project id: 6-30 lowercase letters, digits and '-', "
                             "starting with a letter")
        return ""
    return project


def _parse_zone(r: Reader, obj: Mapping[str, Any], path: str, region: str, required: bool) -> str:
    zone = r.string(obj, "zone", path, required=required)
    if zone and region and not (zone.startswith(f"{region}-") and len(zone) == len(region) + 2):
        r.add(f"{path}.zone", f"{zone!r} is not a zone of gcp:region {region!r}; expected e.g. '{region}-a'")
        return ""
    return zone


def _parse_gcp_gpu_groups(r: Reader, raw: Any, network: NetworkSpec, region: str) -> tuple[GcpGpuGroupSpec, ...]:
    groups: list[GcpGpuGroupSpec] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(r.sequence(raw, "gpuGroups")):
        path = f"gpuGroups[{i}]"
        obj = r.mapping(item, path)
        if not obj:
            continue
        group = _parse_gcp_gpu_group(r, obj, path, network, region)
        if group.name in seen:
            r.add(f"{path}.name",
                  f"{group.name!r} is already used by gpuGroups[{seen[group.name]}]; names must be unique")
        seen.setdefault(group.name, i)
        groups.append(group)
    return tuple(groups)


def _parse_gcp_gpu_group(r: Reader, obj: Mapping[str, Any], path: str, network: NetworkSpec,
                         region: str) -> GcpGpuGroupSpec:
    from aiinfra.catalog.gcp import gcp_machine_type, gcp_machine_types, n1_accelerators, n1_machine_types

    for key in obj:
        if key in _AWS_ONLY_GROUP_KEYS:
            r.add(f"{path}.{key}", f"is an AWS key; on cloud 'gcp' use {_AWS_ONLY_GROUP_KEYS[key]}")
    r.known_keys({k: v for k, v in obj.items() if k not in _AWS_ONLY_GROUP_KEYS}, _GCP_GPU_GROUP_KEYS, path)
    name = r.string(obj, "name", path, required=True)
    if name and not _NAME.match(name):
        r.add(f"{path}.name",
              f"{name!r} is not allowed; use 1-24 lowercase letters, digits and '-', starting with a letter")

    mtype = r.string(obj, "machineType", path, required=True)
    facts = gcp_machine_type(mtype) if mtype else None
    n1 = n1_machine_types().get(mtype) if mtype else None
    known = [*gcp_machine_types(), *n1_machine_types()]
    if mtype and facts is None and n1 is None:
        r.add(f"{path}.machineType", f"{mtype!r} is not a known GPU machine type (A3, A2, G2, or N1 with "
                                     f"acceleratorType){hint(mtype, known)}")

    acc_type = r.string(obj, "acceleratorType", path)
    acc_count = r.integer(obj, "acceleratorCount", path, 1 if acc_type else 0, 0, 8)
    if facts is not None and (acc_type or "acceleratorCount" in obj):
        r.add(f"{path}.acceleratorType", f"{mtype!r} comes with {facts.gpu_count} x {facts.accelerator}; "
                                         "acceleratorType and acceleratorCount are for N1 machine types only")
    if n1 is not None:
        accs = n1_accelerators()
        acc = accs.get(acc_type) if acc_type else None
        if not acc_type:
            r.add(f"{path}.acceleratorType", f"is required with N1 machine type {mtype!r}; expected one of "
                                             f"{', '.join(sorted(accs))}")
        elif acc is None:
            r.add(f"{path}.acceleratorType", f"{acc_type!r} is not a GPU that attaches to N1; expected one of "
                                             f"{', '.join(sorted(accs))}{hint(acc_type, accs)}")
        elif acc_count not in acc.max_vcpus:
            r.add(f"{path}.acceleratorCount", f"{acc_count} x {acc_type} is not offered; expected one of "
                                              f"{', '.join(str(c) for c in sorted(acc.max_vcpus))}")
        elif n1.vcpu > acc.max_vcpus[acc_count]:
            fits = sorted(c for c, v in acc.max_vcpus.items() if v >= n1.vcpu)
            fix = f"acceleratorCount {fits[0]}" if fits else "a smaller N1 machine type"
            r.add(f"{path}.machineType", f"{mtype!r} has {n1.vcpu} vCPUs, more than the {acc.max_vcpus[acc_count]} "
                                         f"GCP allows with {acc_count} x {acc_type}; use {fix}")

    tier = tier_row(network.tier).gcp
    zone = _parse_zone(r, obj, path, region, required=False)
    if tier.compact_placement and not zone and "zone" not in obj:
        r.add(f"{path}.zone", f"is required on network.tier {network.tier.value!r}: compact placement keeps the "
                              f"group in one zone; set e.g. '{region or 'us-central1'}-a'")
    if tier.compact_placement and n1 is not None:
        r.add(f"{path}.machineType", f"N1 ({mtype!r}) does not take compact placement, which network.tier "
                                     f"{network.tier.value!r} uses; choose an A2/A3/G2 type or tier 'standard'")
    if facts is not None and facts.gvnic_required and not tier.gvnic:
        r.add(f"{path}.machineType", f"{mtype!r} runs only with gVNIC, which network.tier 'standard' does not "
                                     "enable; use tier 'enhanced' or 'ultra'")

    purchase = r.choice(obj, "purchase", path, Purchase, Purchase.ON_DEMAND)
    if purchase is Purchase.MIXED:
        r.add(f"{path}.purchase", "'mixed' is not available on GCP (a managed instance group is all spot or all "
                                  "standard); use two groups, one 'spot' and one 'on-demand'")
    if purchase is Purchase.SPOT and facts is not None and not facts.spot:
        r.add(f"{path}.purchase", f"'spot' is not sold for {mtype!r}; use purchase 'on-demand'")

    boot_gib = r.integer(obj, "bootDiskGib", path, 200, 50, 65536, "GiB")
    boot_type = r.choice(obj, "bootDiskType", path, BootDiskType,
                         BootDiskType.HYPERDISK_BALANCED if facts is not None and facts.boot_disk_types ==
                         ("hyperdisk-balanced",) else BootDiskType.PD_BALANCED)
    allowed_disks = facts.boot_disk_types if facts is not None else ("pd-standard", "pd-balanced", "pd-ssd")
    if mtype and (facts is not None or n1 is not None) and boot_type.value not in allowed_disks:
        r.add(f"{path}.bootDiskType", f"{boot_type.value!r} cannot boot {mtype!r}; expected one of "
                                      f"{', '.join(allowed_disks)}")

    reservation = r.string(obj, "reservation", path)
    if reservation and not _GCP_RESERVATION.match(reservation):
        r.add(f"{path}.reservation", f"{reservation!r} is not a reservation name (1-63 lowercase letters, digits "
                                     "and '-')")
    if reservation and purchase is Purchase.SPOT:
        r.add(f"{path}.purchase", "'spot' cannot consume a reservation; reserved capacity is on-demand only")

    autoscaling = None
    if obj.get("autoscaling") is not None:
        a_path = f"{path}.autoscaling"
        a_obj = r.mapping(obj.get("autoscaling"), a_path)
        r.known_keys(a_obj, ("minSize", "maxSize", "cpuUtilization", "cooldownSeconds"), a_path)
        lo = r.integer(a_obj, "minSize", a_path, 0, 0, 1000)
        hi = r.integer(a_obj, "maxSize", a_path, max(lo, 1), 1, 1000)
        if lo > hi:
            r.add(a_path, f"minSize {lo} exceeds maxSize {hi}")
        autoscaling = GcpAutoscalingSpec(
            min_size=lo, max_size=hi,
            cpu_utilization=r.number(a_obj, "cpuUtilization", a_path, 0.6, 0.1, 0.95),
            cooldown_seconds=r.integer(a_obj, "cooldownSeconds", a_path, 300, 60, 3600, "seconds"),
        )
    target = r.integer(obj, "targetSize", path, autoscaling.min_size if autoscaling else 1, 0, 1000)
    if autoscaling is not None and not autoscaling.min_size <= target <= autoscaling.max_size:
        r.add(f"{path}.targetSize", f"{target} is outside autoscaling.minSize {autoscaling.min_size} .. maxSize "
                                    f"{autoscaling.max_size}")

    return GcpGpuGroupSpec(
        name=name or f"group{path}",
        machine_type=mtype,
        accelerator_type=acc_type if n1 is not None else "",
        accelerator_count=acc_count if n1 is not None else 0,
        zone=zone,
        target_size=target,
        autoscaling=autoscaling,
        purchase=purchase,
        boot_disk_gib=boot_gib,
        boot_disk_type=boot_type,
        reservation=reservation,
    )


def _parse_tpu_pods(r: Reader, raw: Any, region: str, cloud: Cloud) -> tuple[TpuPodSpec, ...]:
    items = r.sequence(raw, "tpuPods")
    if items and cloud is not Cloud.GCP:
        r.add("tpuPods",
              f"TPUs exist only on Google Cloud; set cloud: gcp or remove tpuPods (cloud is {cloud.value!r})")
        return ()
    pods: list[TpuPodSpec] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        path = f"tpuPods[{i}]"
        obj = r.mapping(item, path)
        if not obj:
            continue
        pod = _parse_tpu_pod(r, obj, path, region)
        if pod.name in seen:
            r.add(f"{path}.name", f"{pod.name!r} is already used by tpuPods[{seen[pod.name]}]; names must be unique")
        seen.setdefault(pod.name, i)
        pods.append(pod)
    return tuple(pods)


def _parse_tpu_pod(r: Reader, obj: Mapping[str, Any], path: str, region: str) -> TpuPodSpec:
    from aiinfra.catalog.tpu import TpuTypeError, tpu_generation, tpu_slice

    r.known_keys(obj, _TPU_KEYS, path)
    name = r.string(obj, "name", path, required=True)
    if name and not _NAME.match(name):
        r.add(f"{path}.name",
              f"{name!r} is not allowed; use 1-24 lowercase letters, digits and '-', starting with a letter")
    atype = r.string(obj, "acceleratorType", path, required=True)
    gen = None
    hosts = 1
    if atype:
        try:
            sl = tpu_slice(atype)
            gen = tpu_generation(sl.generation)
            hosts = sl.hosts
        except TpuTypeError as exc:
            r.add(f"{path}.acceleratorType", str(exc))

    zone = _parse_zone(r, obj, path, region, required=True)
    if gen is not None and zone and zone not in gen.zones:
        here = gen.region_zones.get(region, ())
        where = (f"in {region}: {', '.join(here)}" if here else
                 f"not in {region}; zones that do: {', '.join(gen.zones)}")
        r.add(f"{path}.zone", f"{zone!r} does not offer TPU {gen.name}; {gen.name} is offered {where}")

    runtime = r.string(obj, "runtimeVersion", path, gen.runtime_versions[0] if gen else "")
    if gen is not None and runtime not in gen.runtime_versions:
        r.add(f"{path}.runtimeVersion", f"{runtime!r} is not a {gen.name} runtime; expected one of "
                                        f"{', '.join(gen.runtime_versions)}{hint(runtime, gen.runtime_versions)}")

    slices = r.integer(obj, "slices", path, 1, 1, 64)
    purchase = r.choice(obj, "purchase", path, TpuPurchase, TpuPurchase.ON_DEMAND)
    queued = r.boolean(obj, "queued", path, slices > 1)
    reserved = r.boolean(obj, "reserved", path, False)
    if slices > 1 and not queued:
        r.add(f"{path}.queued", f"false, but slices {slices} is multislice, which GCP provisions only through a "
                                "queued resource; remove queued or set it to true")
    if gen is not None and purchase is TpuPurchase.SPOT and not gen.spot:
        r.add(f"{path}.purchase", f"'spot' is not sold for TPU {gen.name}; use purchase 'on-demand'")
    if gen is not None and purchase is TpuPurchase.PREEMPTIBLE and not gen.preemptible:
        alt = "'spot'" if gen.spot else "'on-demand'"
        r.add(f"{path}.purchase", f"'preemptible' is the legacy model and TPU {gen.name} does not take it; "
                                  f"use purchase {alt}")
    if purchase is not TpuPurchase.ON_DEMAND and (queued or slices > 1):
        # The pulumi-gcp V2QueuedResource has no spot/preemptible/guaranteed field (node spec: type,
        # runtime, network only), so a queued spot request cannot be expressed; refuse, not downgrade.
        r.add(f"{path}.purchase", f"{purchase.value!r} cannot be combined with a queued resource (queued or "
                                  "slices > 1): the Pulumi GCP provider cannot request spot capacity through one; "
                                  "use one slice with queued: false, or purchase 'on-demand'")
    if reserved and purchase is not TpuPurchase.ON_DEMAND:
        r.add(f"{path}.reserved", f"true contradicts purchase {purchase.value!r}; reserved capacity is on-demand")

    disks: list[TpuDataDiskSpec] = []
    for j, item in enumerate(r.sequence(obj.get("dataDisks"), f"{path}.dataDisks")):
        d_path = f"{path}.dataDisks[{j}]"
        d_obj = r.mapping(item, d_path)
        r.known_keys(d_obj, ("sizeGib", "type", "mode"), d_path)
        default_type = gen.data_disk_types[0] if gen else "pd-balanced"
        dtype = r.string(d_obj, "type", d_path, default_type)
        if gen is not None and dtype not in gen.data_disk_types:
            r.add(f"{d_path}.type", f"{dtype!r} cannot attach to TPU {gen.name}; expected one of "
                                    f"{', '.join(gen.data_disk_types)}")
        mode = r.choice(d_obj, "mode", d_path, DiskMode, DiskMode.READ_ONLY if hosts > 1 else DiskMode.READ_WRITE)
        if hosts > 1 and mode is DiskMode.READ_WRITE:
            r.add(f"{d_path}.mode", f"'READ_WRITE' is not allowed on {atype!r} ({hosts} hosts): a disk shared by "
                                    "every host of a slice must be 'READ_ONLY'")
        disks.append(TpuDataDiskSpec(size_gib=r.integer(d_obj, "sizeGib", d_path, 100, 10, 65536, "GiB"),
                                     type=dtype, mode=mode))
    if disks and queued:
        r.add(f"{path}.dataDisks", "cannot be attached through a queued resource (its node spec has no data "
                                   "disks); use queued: false with one slice, or shared storage (Filestore, GCS)")

    return TpuPodSpec(
        name=name or f"tpu{path}",
        accelerator_type=atype,
        generation=gen.name if gen else "",
        zone=zone,
        runtime_version=runtime,
        slices=slices,
        purchase=purchase,
        queued=queued,
        reserved=reserved,
        data_disks=tuple(disks),
    )


def _parse_filestore(r: Reader, raw: Any, region: str) -> FilestoreSpec:
    from aiinfra.catalog.gcp import filestore_tier

    path = "storage.filestore"
    obj = r.mapping(raw, path)
    r.known_keys(obj, ("enabled", "tier", "capacityGib", "zone", "shareName"), path)
    enabled = r.boolean(obj, "enabled", path, bool(obj))
    tier = r.choice(obj, "tier", path, FilestoreTierName, FilestoreTierName.BASIC_HDD)
    facts = filestore_tier(tier.value)
    default_gib = facts.min_gib if facts else 1024
    capacity = r.integer(obj, "capacityGib", path, default_gib, 1, None, "GiB")
    if facts is not None and not facts.admits(capacity):
        r.add(f"{path}.capacityGib", f"{capacity} is not allowed for tier {tier.value}; it takes {facts.describe()}; "
                                     f"did you mean {facts.nearest(capacity)}?")
    zonal = facts is not None and facts.scope == "zonal"
    zone = _parse_zone(r, obj, path, region, required=False)
    if enabled and zonal and "zone" not in obj:
        r.add(f"{path}.zone", f"is required for zonal tier {tier.value}; set e.g. '{region or 'us-central1'}-a'")
    if zone and not zonal:
        r.add(f"{path}.zone", f"{tier.value} is regional (it lives in gcp:region {region!r}); remove zone")
    share = r.string(obj, "shareName", path, "shared")
    if not _SHARE_NAME.match(share):
        r.add(f"{path}.shareName", f"{share!r} is not a file share name: 1-16 lowercase letters, digits and '_', "
                                   "starting with a letter")
    return FilestoreSpec(enabled=enabled, tier=tier, capacity_gib=capacity, zone=zone, share_name=share)


_REPO_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,61}[a-z0-9]$")


def _parse_images(r: Reader, raw: Any) -> ImagesSpec:
    obj = r.mapping(raw, "images")
    r.known_keys(obj, ("registry", "build", "repositoryPrefix", "keepLast", "untaggedExpiryDays", "platform"),
                 "images")
    registry = r.boolean(obj, "registry", "images", False)
    build = r.boolean(obj, "build", "images", False)
    if build and not registry:
        r.add("images.build", "true needs images.registry: true (the stack pushes to the repositories it creates); "
                              "or leave build off and let CI build the images")
    prefix = r.string(obj, "repositoryPrefix", "images", "ai-infra")
    if not _REPO_PREFIX.match(prefix):
        r.add("images.repositoryPrefix", f"{prefix!r} is not allowed; use 3-63 lowercase letters, digits and '-', "
                                         "starting with a letter")
    return ImagesSpec(
        registry=registry,
        build=build,
        repository_prefix=prefix,
        keep_last=r.integer(obj, "keepLast", "images", 30, 1, 1000, "images"),
        untagged_expiry_days=r.integer(obj, "untaggedExpiryDays", "images", 7, 1, 365, "days"),
        platform=r.choice(obj, "platform", "images", ImagePlatform, ImagePlatform.LINUX_AMD64),
    )


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

"""The `storage` stack key: EFS, FSx for Lustre and the S3 bucket (AWS); Filestore and the GCS bucket (GCP)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiinfra.catalog.gcp import filestore_tier
from aiinfra.catalog.storage import fsx_lustre
from components.common import parse_zone
from components.config_reader import Reader, get, keys, setting


class EfsThroughputMode(StrEnum):
    ELASTIC = "elastic"
    BURSTING = "bursting"
    PROVISIONED = "provisioned"


class FsxDeploymentType(StrEnum):
    SCRATCH_2 = "SCRATCH_2"
    PERSISTENT_2 = "PERSISTENT_2"


class FilestoreTierName(StrEnum):
    BASIC_HDD = "BASIC_HDD"
    BASIC_SSD = "BASIC_SSD"
    ZONAL = "ZONAL"
    REGIONAL = "REGIONAL"
    ENTERPRISE = "ENTERPRISE"


EFS_IA_DAYS = (1, 7, 14, 30, 60, 90, 180, 270, 365)
"""Lifecycle transitions EFS offers (`TransitionToIARules`)."""
FSX_PERSISTENT_2_THROUGHPUT = fsx_lustre().persistent_2_throughputs
"""MB/s per TiB a PERSISTENT_2 file system takes (catalog: aws_storage.json)."""


@dataclass(frozen=True)
class EfsSpec:
    enabled: bool = setting("enabled", True, doc="EFS, encrypted, a mount target per private subnet, NFS from the "
                                                 "VPC only, backups on")
    throughput_mode: EfsThroughputMode = setting("throughputMode", EfsThroughputMode.ELASTIC,
                                                 doc="EFS throughput mode")
    provisioned_mibps: int = setting("provisionedMibps", 0, lo=0, hi=10240, unit="MiB/s", default_doc="—",
                                     doc="required with `provisioned` (1..10240), rejected otherwise")
    transition_to_ia_days: int = setting("transitionToIaDays", 30, type_doc=", ".join(map(str, EFS_IA_DAYS)),
                                         doc="lifecycle to Infrequent Access")


@dataclass(frozen=True)
class BucketSpec:
    noncurrent_version_days: int = setting("noncurrentVersionDays", 30, lo=1, hi=3650, unit="days",
                                           doc="old checkpoint versions expire after this (bucket is versioned, "
                                               "KMS-encrypted, public access blocked, TLS only)")
    force_destroy: bool = setting("forceDestroy", False, doc="allow `pulumi destroy` to empty the bucket; refused "
                                                             "in prod, where data stores are protected")


@dataclass(frozen=True)
class FsxSpec:
    enabled: bool = setting("enabled", False, doc="FSx for Lustre in the GPU subnet, linked to the bucket")
    storage_capacity_gib: int = setting("storageCapacityGib", 1200, lo=1200, unit="GiB",
                                        doc=fsx_lustre().describe())
    deployment_type: FsxDeploymentType = setting("deploymentType", FsxDeploymentType.PERSISTENT_2,
                                                 doc="FSx for Lustre deployment type")
    per_unit_storage_throughput: int = setting(
        "perUnitStorageThroughput", 250, type_doc=", ".join(map(str, FSX_PERSISTENT_2_THROUGHPUT)) + " (MB/s/TiB)",
        doc="PERSISTENT_2 only")


@dataclass(frozen=True)
class FilestoreSpec:
    enabled: bool = setting("enabled", False, default_doc="true when the block is written",
                            doc="a Filestore instance on the stack's network (false without a `filestore` block)")
    tier: FilestoreTierName = setting("tier", FilestoreTierName.BASIC_HDD, doc="Filestore service tier")
    capacity_gib: int = setting("capacityGib", derived="the tier's minimum", lo=1, unit="GiB",
                                doc="BASIC_HDD 1024-65434, BASIC_SSD 2560-65434, ZONAL/REGIONAL 1024-9984 in 256 "
                                    "steps or 10240-102400 in 2560 steps, ENTERPRISE 1024-10240 in 256 steps "
                                    "(`aiinfra/catalog/data/gcp_filestore.json`)")
    zone: str = setting("zone", "", type_doc="zone", default_doc="required for zonal tiers",
                        doc="BASIC_*, ZONAL live in a zone; REGIONAL, ENTERPRISE in the region")
    share_name: str = setting("shareName", "shared", doc="NFS export name")

    def __post_init__(self) -> None:
        if self.capacity_gib is None:
            facts = filestore_tier(self.tier.value)
            object.__setattr__(self, "capacity_gib", facts.min_gib if facts else 1024)


@dataclass(frozen=True)
class StorageSpec:
    efs: EfsSpec = setting("efs", cloud="aws", factory=EfsSpec, doc="")
    bucket: BucketSpec = setting("bucket", factory=BucketSpec, doc="")
    fsx: FsxSpec = setting("fsxLustre", cloud="aws", factory=FsxSpec, doc="")
    filestore: FilestoreSpec = setting("filestore", cloud="gcp", factory=FilestoreSpec, doc="")


_AWS_ONLY = ("efs", "fsxLustre")
_GCP_ONLY = ("filestore",)
_SHARE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,15}$")


def parse_storage(r: Reader, raw: Any, cloud: str = "aws", region: str = "", prod: bool = False) -> StorageSpec:
    obj = r.mapping(raw, "storage")
    if cloud == "gcp":
        for key in _AWS_ONLY:
            if key in obj:
                r.add(f"storage.{key}",
                      "is AWS-only; on cloud 'gcp' use storage.filestore (and storage.bucket for GCS)")
        r.known_keys({k: v for k, v in obj.items() if k not in _AWS_ONLY}, ("bucket", "filestore"), "storage")
        return StorageSpec(efs=EfsSpec(enabled=False), bucket=_parse_bucket(r, obj, prod),
                           filestore=_parse_filestore(r, obj.get("filestore"), region))
    if "filestore" in obj:
        r.add("storage.filestore", "is GCP-only; on cloud 'aws' use storage.efs or storage.fsxLustre")
    r.known_keys({k: v for k, v in obj.items() if k not in _GCP_ONLY}, ("efs", "bucket", "fsxLustre"), "storage")
    efs = _parse_efs(r, obj.get("efs"))
    bucket = _parse_bucket(r, obj, prod)
    fsx = _parse_fsx(r, obj.get("fsxLustre"))
    return StorageSpec(efs=efs, bucket=bucket, fsx=fsx)


def _parse_efs(r: Reader, raw: Any) -> EfsSpec:
    path = "storage.efs"
    obj = r.mapping(raw, path)
    r.known_keys(obj, keys(EfsSpec), path)
    mode = get(r, EfsSpec, "throughput_mode", obj, path)
    mibps = get(r, EfsSpec, "provisioned_mibps", obj, path)
    if mode is EfsThroughputMode.PROVISIONED and mibps < 1:
        r.add(f"{path}.provisionedMibps", "is required (1..10240 MiB/s) when throughputMode is 'provisioned'")
    if mode is not EfsThroughputMode.PROVISIONED and mibps:
        r.add(f"{path}.provisionedMibps", f"{mibps} is only used with throughputMode 'provisioned', not "
                                          f"{mode.value!r}; remove it", mibps)
    ia_days = get(r, EfsSpec, "transition_to_ia_days", obj, path)
    if ia_days not in EFS_IA_DAYS:
        r.add(f"{path}.transitionToIaDays", f"{ia_days} is not allowed; expected one of "
                                            f"{', '.join(map(str, EFS_IA_DAYS))}", ia_days,
              tuple(map(str, EFS_IA_DAYS)))
        ia_days = EfsSpec.transition_to_ia_days
    return EfsSpec(enabled=get(r, EfsSpec, "enabled", obj, path), throughput_mode=mode, provisioned_mibps=mibps,
                   transition_to_ia_days=ia_days)


def _parse_bucket(r: Reader, storage: Mapping[str, Any], prod: bool) -> BucketSpec:
    """`storage.bucket`: the S3 bucket on AWS, the GCS bucket on GCP (same keys)."""
    path = "storage.bucket"
    obj = r.mapping(storage.get("bucket"), path)
    r.known_keys(obj, keys(BucketSpec), path)
    spec = BucketSpec(noncurrent_version_days=get(r, BucketSpec, "noncurrent_version_days", obj, path),
                      force_destroy=get(r, BucketSpec, "force_destroy", obj, path))
    if spec.force_destroy and prod:
        # Never silently dropped: a prod bucket is protected, so the user's true would be ignored.
        r.add(f"{path}.forceDestroy", "true is not allowed in prod (the bucket is protected and retained on "
                                      "delete there); remove it", True, ("false",))
    return spec


def _parse_fsx(r: Reader, raw: Any) -> FsxSpec:
    path = "storage.fsxLustre"
    obj = r.mapping(raw, path)
    r.known_keys(obj, keys(FsxSpec), path)
    deployment = get(r, FsxSpec, "deployment_type", obj, path)
    capacity = get(r, FsxSpec, "storage_capacity_gib", obj, path)
    if not fsx_lustre().admits(capacity):
        r.add(f"{path}.storageCapacityGib", f"{capacity} is not allowed; FSx for Lustre takes "
                                            f"{fsx_lustre().describe()} GiB", capacity)
    throughput = get(r, FsxSpec, "per_unit_storage_throughput", obj, path)
    if deployment is FsxDeploymentType.PERSISTENT_2 and throughput not in FSX_PERSISTENT_2_THROUGHPUT:
        r.add(f"{path}.perUnitStorageThroughput", f"{throughput} is not allowed for PERSISTENT_2; expected "
                                                  "one of 125, 250, 500, 1000 (MB/s per TiB)", throughput,
              tuple(map(str, FSX_PERSISTENT_2_THROUGHPUT)))
    return FsxSpec(enabled=get(r, FsxSpec, "enabled", obj, path), storage_capacity_gib=capacity,
                   deployment_type=deployment, per_unit_storage_throughput=throughput)


def _parse_filestore(r: Reader, raw: Any, region: str) -> FilestoreSpec:
    path = "storage.filestore"
    obj = r.mapping(raw, path)
    r.known_keys(obj, keys(FilestoreSpec), path)
    # Writing the block asks for a Filestore; `enabled: false` keeps the settings but builds none.
    enabled = get(r, FilestoreSpec, "enabled", obj, path, default=bool(obj))
    tier = get(r, FilestoreSpec, "tier", obj, path)
    facts = filestore_tier(tier.value)
    capacity = get(r, FilestoreSpec, "capacity_gib", obj, path, default=FilestoreSpec(tier=tier).capacity_gib)
    if facts is not None and not facts.admits(capacity):
        r.add(f"{path}.capacityGib", f"{capacity} is not allowed for tier {tier.value}; it takes {facts.describe()}; "
                                     f"did you mean {facts.nearest(capacity)}?", capacity, facts.describe())
    zonal = facts is not None and facts.scope == "zonal"
    zone = parse_zone(r, obj, path, region, required=False)
    if enabled and zonal and "zone" not in obj:
        r.add(f"{path}.zone", f"is required for zonal tier {tier.value}; set e.g. '{region or 'us-central1'}-a'")
    if zone and not zonal:
        r.add(f"{path}.zone", f"{tier.value} is regional (it lives in gcp:region {region!r}); remove zone", zone)
    share = get(r, FilestoreSpec, "share_name", obj, path)
    if not _SHARE_NAME.match(share):
        r.add(f"{path}.shareName", f"{share!r} is not a file share name: 1-16 lowercase letters, digits and '_', "
                                   "starting with a letter", share)
    return FilestoreSpec(enabled=enabled, tier=tier, capacity_gib=capacity, zone=zone, share_name=share)

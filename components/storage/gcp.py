"""GCP shared storage: the artifacts GCS bucket and an optional Filestore instance on the private network.

The bucket is private (uniform bucket-level access, public access prevention enforced),
versioned, with old checkpoint versions expiring. With `protect_data` (prod) both stores
get `protect=True` and `retain_on_delete=True`, and Filestore its own deletion protection.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from aiinfra.catalog.gcp import filestore_tier
from components.storage.config import FilestoreSpec


def filestore_reserved_range(free_block: str, tier: str) -> str:
    """The range Filestore takes from the VPC: the first block of the tier's size (/29 basic, /26 others)."""
    facts = filestore_tier(tier)
    if facts is None:
        raise ValueError(f"unknown Filestore tier {tier!r}")
    block = ipaddress.IPv4Network(free_block, strict=True)
    if facts.reserved_ip_prefix < block.prefixlen:
        raise ValueError(f"{free_block} is smaller than the /{facts.reserved_ip_prefix} Filestore {tier} needs")
    return str(next(block.subnets(new_prefix=facts.reserved_ip_prefix)))


def filestore_location(spec: FilestoreSpec, region: str) -> str:
    """Zonal tiers live in their zone, regional tiers (REGIONAL, ENTERPRISE) in the region."""
    facts = filestore_tier(spec.tier.value)
    return spec.zone if facts is not None and facts.scope == "zonal" else region


@dataclass(frozen=True)
class GcpStorageArgs:
    region: str
    vpc_cidr: str
    """Only this range may mount Filestore."""
    network_name: pulumi.Input[str]
    """Filestore attaches to this VPC (by name)."""
    filestore_free_range: str
    """A block of the VPC range no subnet uses; Filestore takes its range from it."""
    filestore: FilestoreSpec
    noncurrent_version_days: int = 30
    """Old checkpoint object versions are deleted this many days after being replaced."""
    protect_data: bool = False
    """protect + retain_on_delete on data stores (prod)."""
    force_destroy_bucket: bool = False


class GcpStorage(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    """Datasets, checkpoints and models."""
    bucket_url: pulumi.Output[str]
    """`gs://<name>`."""
    filestore_ip: pulumi.Output[str] | None
    """NFS server address (None when Filestore is disabled)."""
    filestore_share: str | None
    """The exported share name (mount `<ip>:/<share>`)."""
    filestore_name: pulumi.Output[str] | None
    """The Filestore instance's name (for a static CSI volume on GKE)."""
    filestore_location: str | None
    """The instance's zone or region."""

    def __init__(self, name: str, args: GcpStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:GcpStorage", name, None, opts)
        data = pulumi.ResourceOptions(parent=self, protect=args.protect_data, retain_on_delete=args.protect_data)

        bucket = gcp.storage.Bucket(
            f"{name}-artifacts",
            location=args.region.upper(),
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning={"enabled": True},
            force_destroy=args.force_destroy_bucket and not args.protect_data,
            lifecycle_rules=[
                # Every checkpoint overwrite leaves a noncurrent version; keep a window, not forever.
                {"action": {"type": "Delete"},
                 "condition": {"days_since_noncurrent_time": args.noncurrent_version_days, "with_state": "ARCHIVED"}},
                {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}},
            ],
            soft_delete_policy={"retention_duration_seconds": 7 * 24 * 3600},
            opts=data,
        )
        self.bucket_name = bucket.name
        self.bucket_url = bucket.url
        self.filestore_ip = None
        self.filestore_share = None
        self.filestore_name = None
        self.filestore_location = None

        fs = args.filestore
        if fs.enabled:
            instance = gcp.filestore.Instance(
                f"{name}-filestore",
                tier=fs.tier.value,
                location=filestore_location(fs, args.region),
                file_shares={
                    "name": fs.share_name,
                    "capacity_gb": fs.capacity_gib,
                    # Only the VPC may mount; no root squash so training containers running as root can
                    # create per-job directories (the VPC itself is private).
                    "nfs_export_options": [{"ip_ranges": [args.vpc_cidr], "access_mode": "READ_WRITE",
                                            "squash_mode": "NO_ROOT_SQUASH"}],
                },
                networks=[{
                    "network": args.network_name,
                    "modes": ["MODE_IPV4"],
                    "connect_mode": "DIRECT_PEERING",
                    "reserved_ip_range": filestore_reserved_range(args.filestore_free_range, fs.tier.value),
                }],
                deletion_protection_enabled=args.protect_data,
                deletion_protection_reason="prod data store" if args.protect_data else None,
                description=f"shared file system for {name}",
                opts=data,
            )
            self.filestore_ip = instance.networks.apply(lambda nets: nets[0]["ip_addresses"][0]
                                                        if nets and nets[0].get("ip_addresses") else "")
            self.filestore_share = fs.share_name
            self.filestore_name = instance.name
            self.filestore_location = filestore_location(fs, args.region)

        self.register_outputs({"bucket_name": self.bucket_name, "filestore_ip": self.filestore_ip})

"""AWS shared storage: EFS (NFS from the VPC only), the artifacts S3 bucket, optional FSx for Lustre.

Every store is encrypted and private; the bucket is versioned. With `protect_data`
(prod) every data store gets `protect=True` and `retain_on_delete=True`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.storage.config import EfsSpec, FsxDeploymentType, FsxSpec

_LUSTRE_PORTS = ((988, 988), (1018, 1023))


@dataclass(frozen=True)
class AwsStorageArgs:
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    """NFS/Lustre ingress is allowed from this range only."""
    private_subnet_ids: pulumi.Input[list[str]]
    """EFS gets a mount target in each."""
    private_subnet_count: int
    """How many ids `private_subnet_ids` holds (one per AZ; decides the mount target count)."""
    lustre_subnet_id: pulumi.Input[str]
    """FSx for Lustre is single-subnet; put it next to the GPUs."""
    efs: EfsSpec
    fsx: FsxSpec
    noncurrent_version_days: int = 30
    """Old checkpoint object versions expire after this many days."""
    protect_data: bool = False
    """protect + retain_on_delete on data stores (prod)."""
    force_destroy_bucket: bool = False


class AwsStorage(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    """Datasets, checkpoints and models."""
    bucket_arn: pulumi.Output[str]
    efs_id: pulumi.Output[str] | None
    """Shared file system id (None when EFS is disabled)."""
    efs_dns_name: pulumi.Output[str] | None
    lustre_dns_name: pulumi.Output[str] | None
    lustre_mount_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: AwsStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:AwsStorage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        data = pulumi.ResourceOptions(parent=self, protect=args.protect_data, retain_on_delete=args.protect_data)

        bucket = aws.s3.Bucket(f"{name}-artifacts", force_destroy=args.force_destroy_bucket and not args.protect_data,
                               opts=data)
        aws.s3.BucketOwnershipControls(f"{name}-artifacts", bucket=bucket.id,
                                       rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
        aws.s3.BucketPublicAccessBlock(f"{name}-artifacts", bucket=bucket.id, block_public_acls=True,
                                       block_public_policy=True, ignore_public_acls=True,
                                       restrict_public_buckets=True, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(f"{name}-artifacts", bucket=bucket.id, rules=[{
            "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"},
            "bucket_key_enabled": True,
        }], opts=child)
        versioning = aws.s3.BucketVersioning(f"{name}-artifacts", bucket=bucket.id,
                                             versioning_configuration={"status": "Enabled"}, opts=child)
        aws.s3.BucketLifecycleConfiguration(f"{name}-artifacts", bucket=bucket.id, rules=[
            {"id": "expire-old-checkpoint-versions", "status": "Enabled", "filter": {"prefix": ""},
             "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_days}},
            {"id": "abort-incomplete-uploads", "status": "Enabled", "filter": {"prefix": ""},
             "abort_incomplete_multipart_upload": {"days_after_initiation": 7}},
        ], opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]))
        aws.s3.BucketPolicy(f"{name}-artifacts", bucket=bucket.id, policy=bucket.arn.apply(lambda arn: json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                           "Resource": [arn, f"{arn}/*"],
                           "Condition": {"Bool": {"aws:SecureTransport": "false"}}}],
        })), opts=child)

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.efs_id = None
        self.efs_dns_name = None
        self.lustre_dns_name = None
        self.lustre_mount_name = None

        if args.efs.enabled:
            self._efs(name, args, data, child)
        if args.fsx.enabled:
            self._lustre(name, args, bucket, data, child)

        self.register_outputs({"bucket_name": self.bucket_name, "efs_id": self.efs_id})

    def _efs(self, name: str, args: AwsStorageArgs, data: pulumi.ResourceOptions,
             child: pulumi.ResourceOptions) -> None:
        sg = aws.ec2.SecurityGroup(f"{name}-efs", vpc_id=args.vpc_id,
                                   description="EFS: NFS from inside the VPC only", opts=child)
        aws.vpc.SecurityGroupIngressRule(f"{name}-efs-nfs", security_group_id=sg.id, ip_protocol="tcp",
                                         from_port=2049, to_port=2049, cidr_ipv4=args.vpc_cidr,
                                         description="NFS from the VPC", opts=child)
        efs = args.efs
        fs = aws.efs.FileSystem(
            f"{name}-efs",
            encrypted=True,
            throughput_mode=efs.throughput_mode.value,
            provisioned_throughput_in_mibps=efs.provisioned_mibps or None,
            lifecycle_policies=[{"transition_to_ia": f"AFTER_{efs.transition_to_ia_days}_DAYS"},
                                {"transition_to_primary_storage_class": "AFTER_1_ACCESS"}],
            tags={"Name": f"{name}-efs"},
            opts=data,
        )
        aws.efs.BackupPolicy(f"{name}-efs", file_system_id=fs.id, backup_policy={"status": "ENABLED"}, opts=child)
        subnet_ids = pulumi.Output.from_input(args.private_subnet_ids)
        # One mount target per private subnet; the count is known from the spec, ids are not.
        for i in range(args.private_subnet_count):
            aws.efs.MountTarget(f"{name}-efs-{i}", file_system_id=fs.id,
                                subnet_id=subnet_ids[i],
                                security_groups=[sg.id], opts=child)
        self.efs_id = fs.id
        self.efs_dns_name = fs.dns_name

    def _lustre(self, name: str, args: AwsStorageArgs, bucket: aws.s3.Bucket, data: pulumi.ResourceOptions,
                child: pulumi.ResourceOptions) -> None:
        # A retained file system keeps its network interfaces in this group: the group and its rules
        # are retained with it, or `pulumi destroy` fails on the dependency (README, "Teardown").
        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=args.protect_data)
        sg = aws.ec2.SecurityGroup(f"{name}-lustre", vpc_id=args.vpc_id,
                                   description="FSx for Lustre: LNET from inside the VPC only", opts=kept)
        for lo, hi in _LUSTRE_PORTS:
            aws.vpc.SecurityGroupIngressRule(f"{name}-lustre-{lo}", security_group_id=sg.id, ip_protocol="tcp",
                                             from_port=lo, to_port=hi, cidr_ipv4=args.vpc_cidr,
                                             description="Lustre from the VPC", opts=kept)
        aws.vpc.SecurityGroupEgressRule(f"{name}-lustre-out", security_group_id=sg.id, ip_protocol="tcp",
                                        from_port=988, to_port=1023, cidr_ipv4=args.vpc_cidr,
                                        description="Lustre servers to clients in the VPC", opts=kept)
        fsx = args.fsx
        persistent = fsx.deployment_type is FsxDeploymentType.PERSISTENT_2
        fs = aws.fsx.LustreFileSystem(
            f"{name}-lustre",
            storage_capacity=fsx.storage_capacity_gib,
            deployment_type=fsx.deployment_type.value,
            per_unit_storage_throughput=fsx.per_unit_storage_throughput if persistent else None,
            subnet_ids=args.lustre_subnet_id,  # one subnet; the v7 SDK takes a string
            security_group_ids=[sg.id],
            data_compression_type="LZ4",
            file_system_type_version="2.15",
            automatic_backup_retention_days=7 if persistent else None,
            copy_tags_to_backups=True if persistent else None,
            skip_final_backup=not args.protect_data,
            import_path=None if persistent else bucket.bucket.apply(lambda b: f"s3://{b}"),
            opts=data,
        )
        if persistent:
            aws.fsx.DataRepositoryAssociation(
                f"{name}-lustre-s3", file_system_id=fs.id, file_system_path="/s3",
                data_repository_path=bucket.bucket.apply(lambda b: f"s3://{b}"),
                batch_import_meta_data_on_create=True,
                s3={"auto_import_policy": {"events": ["NEW", "CHANGED", "DELETED"]},
                    "auto_export_policy": {"events": ["NEW", "CHANGED", "DELETED"]}},
                opts=child,
            )
        self.lustre_dns_name = fs.dns_name
        self.lustre_mount_name = fs.mount_name

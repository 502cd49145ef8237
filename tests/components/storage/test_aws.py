"""AwsStorage under the mock engine: encrypted, private, versioned; protected in prod."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from aiinfra.offline import Plan, PlanError

DATA_STORES = ("aws:s3/bucket:Bucket", "aws:efs/fileSystem:FileSystem", "aws:fsx/lustreFileSystem:LustreFileSystem")
LUSTRE = {"fsxLustre": {"enabled": True, "storageCapacityGib": 2400, "perUnitStorageThroughput": 250}}


def test_bucket_is_versioned_encrypted_private_and_tls_only(plan_values: Callable[..., Plan]) -> None:
    plan = plan_values()
    assert plan.by_type("aws:s3/bucketVersioning:BucketVersioning")[0].inputs["versioningConfiguration"] == {
        "status": "Enabled"}
    sse = plan.by_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")[0]
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    pab = plan.by_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[0].inputs
    assert all(pab[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                        "restrictPublicBuckets"))
    policy = plan.by_type("aws:s3/bucketPolicy:BucketPolicy")[0].inputs["policy"]
    assert '"aws:SecureTransport": "false"' in policy


def test_old_checkpoint_versions_expire(plan_values: Callable[..., Plan]) -> None:
    plan = plan_values(storage={"bucket": {"noncurrentVersionDays": 14}})
    rules = plan.by_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[0].inputs["rules"]
    expire = next(r for r in rules if r["id"] == "expire-old-checkpoint-versions")
    assert expire["noncurrentVersionExpiration"] == {"noncurrentDays": 14}


def test_efs_is_encrypted_with_mount_target_per_az_and_nfs_from_vpc_only(plan_values: Callable[..., Plan]) -> None:
    plan = plan_values(network={"cidr": "10.8.0.0/16", "azCount": 3, "tier": "standard"})
    fs = plan.by_type("aws:efs/fileSystem:FileSystem")[0].inputs
    assert fs["encrypted"] is True and fs["throughputMode"] == "elastic"
    assert {"transitionToIa": "AFTER_30_DAYS"} in fs["lifecyclePolicies"]
    assert len(plan.by_type("aws:efs/mountTarget:MountTarget")) == 3
    nfs = next(r for r in plan.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
               if r.name.endswith("efs-nfs")).inputs
    assert (nfs["fromPort"], nfs["toPort"], nfs["ipProtocol"], nfs["cidrIpv4"]) == (2049, 2049, "tcp", "10.8.0.0/16")
    assert plan.by_type("aws:efs/backupPolicy:BackupPolicy")[0].inputs["backupPolicy"] == {"status": "ENABLED"}


def test_efs_can_be_turned_off(plan_values: Callable[..., Plan]) -> None:
    plan = plan_values(storage={"efs": {"enabled": False}})
    assert not plan.by_type("aws:efs/fileSystem:FileSystem")
    assert plan.exports.get("efsId") is None


def test_lustre_is_linked_to_the_bucket(plan_values: Callable[..., Plan]) -> None:
    plan = plan_values(storage=LUSTRE)
    fs = plan.by_type("aws:fsx/lustreFileSystem:LustreFileSystem")[0].inputs
    assert (fs["storageCapacity"], fs["deploymentType"], fs["perUnitStorageThroughput"]) == (2400, "PERSISTENT_2", 250)
    bucket = plan.by_type("aws:s3/bucket:Bucket")[0].id
    dra = plan.by_type("aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation")[0].inputs
    assert dra["dataRepositoryPath"] == f"s3://{bucket}"


def test_data_stores_are_protected_and_retained_in_prod_only(plan_values: Callable[..., Plan]) -> None:
    dev = plan_values(storage=LUSTRE)
    prod = plan_values(storage=LUSTRE, environment="prod")
    for token in DATA_STORES:
        (d,) = dev.by_type(token)
        (p,) = prod.by_type(token)
        assert (d.protect, d.retain_on_delete) == (False, False), token
        assert (p.protect, p.retain_on_delete) == (True, True), token
    assert prod.by_type("aws:s3/bucket:Bucket")[0].inputs["forceDestroy"] is False


def test_force_destroy_is_refused_in_prod_not_silently_dropped(plan_values: Callable[..., Plan]) -> None:
    with pytest.raises(PlanError) as err:
        plan_values(storage={"bucket": {"forceDestroy": True}}, environment="prod")
    assert [p.path for p in err.value.items] == ["storage.bucket.forceDestroy"]
    prod = plan_values(environment="prod")
    assert prod.by_type("aws:s3/bucket:Bucket")[0].inputs["forceDestroy"] is False

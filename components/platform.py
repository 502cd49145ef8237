"""Composition: the whole platform for one stack, in dependency order.

network -> storage -> compute -> (clusters, workloads). This is the only module that
knows every component; each component only gets the values it needs.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components import tagging
from components.compute.aws_gpu_group import AwsGpuGroup, AwsGpuGroupArgs
from components.network.aws import AwsNetwork, AwsNetworkArgs
from components.network.tiers import tier_row
from components.spec import Cloud, StackSpec
from components.storage.aws import AwsStorage, AwsStorageArgs


def build(spec: StackSpec) -> dict[str, Any]:
    """Create every resource the spec asks for; returns the values to export."""
    tagging.register(spec.tags)
    if spec.cloud is Cloud.AWS:
        return _build_aws(spec)
    raise NotImplementedError(f"cloud {spec.cloud.value!r}")


def _build_aws(spec: StackSpec) -> dict[str, Any]:
    prefix = f"{spec.project}-{spec.stack}"
    net = spec.network
    network = AwsNetwork(prefix, AwsNetworkArgs(
        cidr=net.cidr, az_count=net.az_count, tier=net.tier, region=spec.region, flow_logs=net.flow_logs,
    ))
    storage = AwsStorage(prefix, AwsStorageArgs(
        vpc_id=network.vpc_id,
        vpc_cidr=net.cidr,
        private_subnet_ids=network.private_subnet_ids,
        private_subnet_count=net.az_count,
        lustre_subnet_id=network.gpu_subnet_ids.apply(lambda ids: ids[0]),
        efs=spec.storage.efs,
        fsx=spec.storage.fsx,
        noncurrent_version_days=spec.storage.bucket.noncurrent_version_days,
        protect_data=spec.protect_data,
        force_destroy_bucket=spec.storage.bucket.force_destroy,
    ), opts=pulumi.ResourceOptions(depends_on=[network]))

    tier = tier_row(net.tier).aws
    groups = {}
    for g in spec.gpu_groups:
        sgs = [network.node_security_group_id]
        if g.efa and network.efa_security_group_id is not None:
            sgs.append(network.efa_security_group_id)
        groups[g.name] = AwsGpuGroup(f"{prefix}-{g.name}", AwsGpuGroupArgs(
            group=g,
            subnet_ids=network.gpu_subnet_ids,
            security_group_ids=sgs,
            bucket_arn=storage.bucket_arn,
            cluster_placement=tier.cluster_placement,
            efs_dns_name=storage.efs_dns_name,
            lustre_dns_name=storage.lustre_dns_name,
            lustre_mount_name=storage.lustre_mount_name,
        ), opts=pulumi.ResourceOptions(depends_on=[storage]))

    return {
        "vpcId": network.vpc_id,
        "privateSubnetIds": network.private_subnet_ids,
        "bucketName": storage.bucket_name,
        "efsId": storage.efs_id,
        "gpuGroups": {name: grp.group_name for name, grp in groups.items()},
    }

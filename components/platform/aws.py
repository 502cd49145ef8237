"""AWS: network -> storage (EFS, FSx for Lustre, S3) -> GPU groups -> EKS and its workloads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from components.compute.aws_gpu_group import AwsGpuGroup, AwsGpuGroupArgs
from components.kubernetes.eks import EksCluster, EksClusterArgs
from components.kubernetes.identity import AwsWorkloadIdentity, AwsWorkloadIdentityArgs
from components.network.aws import AwsNetwork, AwsNetworkArgs
from components.network.tiers import tier_row
from components.platform.workloads import Site, build_workloads
from components.spec import StackSpec
from components.storage.aws import AwsStorage, AwsStorageArgs
from components.workloads.model_server import ModelSource


def build_aws(spec: StackSpec, built: Mapping[str, pulumi.Output[str]]) -> dict[str, Any]:
    prefix = spec.prefix
    net = spec.network
    network = AwsNetwork(prefix, AwsNetworkArgs(
        cidr=net.cidr, az_count=net.az_count, tier=net.tier, region=spec.region, flow_logs=net.flow_logs,
        retain_for_data=spec.protect_data and spec.storage.fsx.enabled,
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
        sgs: list[pulumi.Input[str]] = [network.node_security_group_id]
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

    exports: dict[str, Any] = {
        "vpcId": network.vpc_id,
        "privateSubnetIds": network.private_subnet_ids,
        "bucketName": storage.bucket_name,
        "efsId": storage.efs_id,
        "gpuGroups": {name: grp.group_name for name, grp in groups.items()},
    }
    if spec.kubernetes is not None:
        exports.update(_build_eks(spec, network, storage, built))
    return exports


def _build_eks(spec: StackSpec, network: AwsNetwork, storage: AwsStorage,
               built: Mapping[str, pulumi.Output[str]]) -> dict[str, Any]:
    """The EKS cluster, then each workload with its own IRSA role scoped to its bucket prefixes."""
    k8s_spec = spec.kubernetes
    assert k8s_spec is not None
    cluster = EksCluster(f"{spec.prefix}-eks", EksClusterArgs(
        cluster=k8s_spec,
        region=spec.region,
        subnet_ids=network.private_subnet_ids,
        gpu_subnet_ids=network.gpu_subnet_ids,
        efa_security_group_id=network.efa_security_group_id,
        cluster_placement=tier_row(spec.network.tier).aws.cluster_placement,
        efs_file_system_id=storage.efs_id,
        protect=spec.protect_data,
    ), opts=pulumi.ResourceOptions(depends_on=[storage]))

    def identity(name: str, namespace: str, account: str, read: tuple[str, ...], write: tuple[str, ...],
                 opts: pulumi.ResourceOptions) -> Mapping[str, Any]:
        return AwsWorkloadIdentity(name, AwsWorkloadIdentityArgs(
            oidc_provider_arn=cluster.oidc_provider_arn, oidc_issuer_url=cluster.oidc_issuer_url,
            namespace=namespace, service_account=account, bucket_arn=storage.bucket_arn,
            read_prefixes=read, write_prefixes=write,
        ), opts=opts).annotations

    site = Site(
        prefix=spec.prefix, cloud="aws", cluster=k8s_spec, provider=cluster.provider,
        # The spec requires EFS when there are training jobs, so the EFS class exists then.
        storage_class=cluster.storage_class or "",
        after_cluster=pulumi.ResourceOptions(depends_on=[cluster]), identity=identity,
        data_uri=lambda job: pulumi.Output.concat("s3://", storage.bucket_name, "/", job.data_path),
        model_source=lambda server: ModelSource(
            uri=pulumi.Output.concat("s3://", storage.bucket_name, "/", server.model_path)),
        images=built,
        # Training queue: ClusterQueue per environment, LocalQueue per team, quotas from the budget file.
        environment=spec.environment.value, team=spec.tags["team"], region=spec.region,
        monthly_budget_usd=spec.budget.monthly_limit_usd if spec.budget else None,
        budget_source=spec.budget.source if spec.budget else "",
    )
    return {"clusterName": cluster.cluster_name, "kubeconfig": cluster.kubeconfig,
            **build_workloads(site, spec.workloads)}

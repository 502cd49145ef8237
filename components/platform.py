"""Composition: the whole platform for one stack, in dependency order.

network -> storage -> compute -> (clusters, workloads). This is the only module that
knows every component; each component only gets the values it needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi

from components import tagging
from components.budgets import CostBudget, CostBudgetArgs, load_budget
from components.compute.aws_gpu_group import AwsGpuGroup, AwsGpuGroupArgs
from components.compute.gcp_gpu_group import GcpGpuGroup, GcpGpuGroupArgs
from components.compute.tpu_pod import TpuPod, TpuPodArgs
from components.images import ContainerImages, ContainerImagesArgs
from components.kubernetes.eks import EksCluster, EksClusterArgs
from components.kubernetes.gke import GkeCluster, GkeClusterArgs
from components.kubernetes.identity import (
    AwsWorkloadIdentity,
    AwsWorkloadIdentityArgs,
    GcpWorkloadIdentity,
    GcpWorkloadIdentityArgs,
)
from components.kubernetes.placement import placement_for, system_placement
from components.network.aws import AwsNetwork, AwsNetworkArgs
from components.network.gcp import GcpNetwork, GcpNetworkArgs
from components.network.tiers import tier_row
from components.spec import Cloud, StackSpec
from components.storage.aws import AwsStorage, AwsStorageArgs
from components.storage.gcp import GcpStorage, GcpStorageArgs
from components.workloads.model_server import MODEL_MOUNT, ModelServer, ModelServerArgs, ModelSource
from components.workloads.training_job import SharedVolume, TrainingJob, TrainingJobArgs


def build(spec: StackSpec) -> dict[str, Any]:
    """Create every resource the spec asks for; returns the values to export."""
    tagging.register(spec.tags)
    _build_budget(spec)
    built: dict[str, pulumi.Output[str]] = {}
    image_exports: dict[str, Any] = {}
    if spec.images.registry:
        built, image_exports = _build_images(spec)
    exports = _build_aws(spec, built) if spec.cloud is Cloud.AWS else _build_gcp(spec, built)
    exports.update(image_exports)
    return exports


def _build_budget(spec: StackSpec) -> None:
    """The runtime backstop: cloud budget alerts from the environment's budget file (the one CI gates with)."""
    from components.errors import ConfigError

    try:
        limit = load_budget(spec.environment.value)
    except ConfigError as err:
        raise pulumi.RunError(err.render()) from None
    if limit is None:
        return
    number = None
    if spec.cloud is not Cloud.AWS and limit.gcp_billing_account:
        import pulumi_gcp as gcp

        number = gcp.organizations.get_project_output(project_id=spec.gcp_project).number
    CostBudget(f"{spec.project}-{spec.stack}-budget",
               CostBudgetArgs(limit, spec.environment.value, spec.cloud.value, number))


def _build_aws(spec: StackSpec, built: Mapping[str, pulumi.Output[str]]) -> dict[str, Any]:
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
        exports.update(_build_eks(spec, prefix, network, storage, built))
    return exports


def _build_eks(spec: StackSpec, prefix: str, network: AwsNetwork, storage: AwsStorage,
               built: Mapping[str, pulumi.Output[str]]) -> dict[str, Any]:
    """The EKS cluster, then each workload with its own IRSA role scoped to its bucket prefixes."""
    k8s_spec = spec.kubernetes
    assert k8s_spec is not None
    cluster = EksCluster(f"{prefix}-eks", EksClusterArgs(
        cluster=k8s_spec,
        region=spec.region,
        subnet_ids=network.private_subnet_ids,
        gpu_subnet_ids=network.gpu_subnet_ids,
        efa_security_group_id=network.efa_security_group_id,
        cluster_placement=tier_row(spec.network.tier).aws.cluster_placement,
        efs_file_system_id=storage.efs_id,
        protect=spec.protect_data,
    ), opts=pulumi.ResourceOptions(depends_on=[storage]))
    after_cluster = pulumi.ResourceOptions(depends_on=[cluster])

    jobs = {}
    for job in spec.workloads.training_jobs:
        pool = k8s_spec.pool(job.pool)
        assert pool is not None and cluster.storage_class is not None  # the spec checked both
        identity = AwsWorkloadIdentity(f"{prefix}-{job.name}-identity", AwsWorkloadIdentityArgs(
            oidc_provider_arn=cluster.oidc_provider_arn, oidc_issuer_url=cluster.oidc_issuer_url,
            namespace=job.name, service_account="trainer", bucket_arn=storage.bucket_arn,
            read_prefixes=(job.data_path,), write_prefixes=(f"runs/{job.name}",),
        ), opts=after_cluster)
        jobs[job.name] = TrainingJob(f"{prefix}-{job.name}", TrainingJobArgs(
            job=job, placement=placement_for(pool, "aws"), storage_class=cluster.storage_class,
            data_uri=pulumi.Output.concat("s3://", storage.bucket_name, "/", job.data_path),
            service_account_annotations=identity.annotations, provider=cluster.provider,
            image=built.get("trainer"),
        ), opts=after_cluster).job_name

    servers = {}
    for server in spec.workloads.servers:
        pool = k8s_spec.pool(server.pool) if server.pool else None
        identity = AwsWorkloadIdentity(f"{prefix}-{server.name}-identity", AwsWorkloadIdentityArgs(
            oidc_provider_arn=cluster.oidc_provider_arn, oidc_issuer_url=cluster.oidc_issuer_url,
            namespace=server.name, service_account="server", bucket_arn=storage.bucket_arn,
            read_prefixes=(server.model_path,),
        ), opts=after_cluster)
        placement = (placement_for(pool, "aws") if pool is not None
                     else system_placement(k8s_spec.system_pool.instance_type))
        servers[server.name] = ModelServer(f"{prefix}-{server.name}", ModelServerArgs(
            server=server, placement=placement,
            model=ModelSource(uri=pulumi.Output.concat("s3://", storage.bucket_name, "/", server.model_path)),
            service_account_annotations=identity.annotations, provider=cluster.provider,
            image=built.get("server"),
        ), opts=after_cluster).service_name

    return {"clusterName": cluster.cluster_name, "kubeconfig": cluster.kubeconfig,
            "trainingJobs": jobs, "servers": servers}


def _build_gcp(spec: StackSpec, built: Mapping[str, pulumi.Output[str]]) -> dict[str, Any]:
    """GCP: network -> storage (GCS, Filestore) -> GPU groups and TPU pods."""
    prefix = f"{spec.project}-{spec.stack}"
    net = spec.network
    network = GcpNetwork(prefix, GcpNetworkArgs(
        cidr=net.cidr, region=spec.region, tier=net.tier, flow_logs=net.flow_logs, peered_cidrs=net.peered_cidrs,
    ))
    storage = GcpStorage(prefix, GcpStorageArgs(
        region=spec.region,
        vpc_cidr=net.cidr,
        network_name=network.network_name,
        filestore_free_range=network.ranges.filestore,
        filestore=spec.storage.filestore,
        noncurrent_version_days=spec.storage.bucket.noncurrent_version_days,
        protect_data=spec.protect_data,
        force_destroy_bucket=spec.storage.bucket.force_destroy,
    ), opts=pulumi.ResourceOptions(depends_on=[network]))

    tier = tier_row(net.tier).gcp
    groups = {}
    for g in spec.gcp_gpu_groups:
        groups[g.name] = GcpGpuGroup(f"{prefix}-{g.name}", GcpGpuGroupArgs(
            group=g, project=spec.gcp_project, region=spec.region, tier=tier,
            subnet_self_link=network.subnet_self_link, bucket_name=storage.bucket_name,
            filestore_ip=storage.filestore_ip, filestore_share=storage.filestore_share,
        ), opts=pulumi.ResourceOptions(depends_on=[storage]))
    tpus = {}
    for pod in spec.tpu_pods:
        tpus[pod.name] = TpuPod(f"{prefix}-{pod.name}", TpuPodArgs(
            pod=pod, project=spec.gcp_project, network_id=network.network_id, subnet_id=network.subnet_id,
            bucket_name=storage.bucket_name,
        ), opts=pulumi.ResourceOptions(depends_on=[storage]))

    return {
        "networkId": network.network_id,
        "networkSelfLink": network.network_self_link,
        "subnetSelfLink": network.subnet_self_link,
        "podsRangeName": network.pods_range_name,
        "servicesRangeName": network.services_range_name,
        "bucketName": storage.bucket_name,
        "filestoreIp": storage.filestore_ip,
        "gpuGroups": {name: grp.group_name for name, grp in groups.items()},
        "tpuPods": {name: t.node_names for name, t in tpus.items()},
        **(_build_gke(spec, prefix, network, storage, built) if spec.kubernetes is not None else {}),
    }


def _build_gke(spec: StackSpec, prefix: str, network: GcpNetwork, storage: GcpStorage,
               built: Mapping[str, pulumi.Output[str]]) -> dict[str, Any]:
    """The GKE cluster, then each workload with its own Workload Identity account on the bucket."""
    k8s_spec = spec.kubernetes
    assert k8s_spec is not None
    cluster = GkeCluster(f"{prefix}-gke", GkeClusterArgs(
        cluster=k8s_spec, project=spec.gcp_project, region=spec.region,
        network=network.network_self_link, subnetwork=network.subnet_self_link,
        pods_range=network.pods_range_name, services_range=network.services_range_name,
        compact_placement=tier_row(spec.network.tier).gcp.compact_placement, protect=spec.protect_data,
        labels=spec.tags,
    ), opts=pulumi.ResourceOptions(depends_on=[network]))
    after_cluster = pulumi.ResourceOptions(depends_on=[cluster])

    jobs = {}
    for job in spec.workloads.training_jobs:
        pool = k8s_spec.pool(job.pool)
        assert pool is not None  # the spec checked it
        identity = GcpWorkloadIdentity(f"{prefix}-{job.name}-identity", GcpWorkloadIdentityArgs(
            project=spec.gcp_project, namespace=job.name, service_account="trainer",
            bucket_name=storage.bucket_name, write=True,
        ), opts=after_cluster)
        jobs[job.name] = TrainingJob(f"{prefix}-{job.name}", TrainingJobArgs(
            job=job, placement=placement_for(pool, "gcp"), storage_class=cluster.storage_class,
            shared_volume=_filestore_volume(storage, f"{prefix}-{job.name}"),
            data_uri=pulumi.Output.concat("gs://", storage.bucket_name, "/", job.data_path),
            service_account_annotations=identity.annotations, provider=cluster.provider,
            image=built.get("trainer"),
        ), opts=after_cluster).job_name

    servers = {}
    for server in spec.workloads.servers:
        pool = k8s_spec.pool(server.pool) if server.pool else None
        identity = GcpWorkloadIdentity(f"{prefix}-{server.name}-identity", GcpWorkloadIdentityArgs(
            project=spec.gcp_project, namespace=server.name, service_account="server",
            bucket_name=storage.bucket_name,
        ), opts=after_cluster)
        placement = placement_for(pool, "gcp") if pool is not None else system_placement(
            k8s_spec.system_pool.instance_type)
        servers[server.name] = ModelServer(f"{prefix}-{server.name}", ModelServerArgs(
            server=server, placement=placement,
            # The bucket is mounted read-only with GCS FUSE; the server reads a local path.
            model=ModelSource(uri=f"{MODEL_MOUNT}/{server.model_path}", gcs_bucket=storage.bucket_name),
            service_account_annotations=identity.annotations, provider=cluster.provider,
            image=built.get("server"),
        ), opts=after_cluster).service_name

    return {"clusterName": cluster.cluster_name, "kubeconfig": cluster.kubeconfig,
            "trainingJobs": jobs, "servers": servers}


def _filestore_volume(storage: GcpStorage, name: str) -> SharedVolume | None:
    """The stack's own Filestore as a static CSI volume (None without one: the CSI class provisions)."""
    if storage.filestore_ip is None or storage.filestore_name is None or storage.filestore_share is None:
        return None
    # Filestore CSI's handle for a pre-existing instance: modeInstance/<location>/<instance>/<share>.
    handle = pulumi.Output.concat("modeInstance/", storage.filestore_location or "", "/", storage.filestore_name,
                                  "/", storage.filestore_share)
    return SharedVolume(name=name, csi_driver="filestore.csi.storage.gke.io", volume_handle=handle,
                        attributes={"ip": storage.filestore_ip, "volume": storage.filestore_share})


def _build_images(spec: StackSpec) -> tuple[dict[str, pulumi.Output[str]], dict[str, Any]]:
    """Image repositories (and, with `images.build`, the images themselves, pushed by digest).

    Returns the built images by name (empty unless `images.build`), which override the
    workloads' configured images, and the values to export."""
    images = ContainerImages(f"{spec.project}-{spec.stack}-images", ContainerImagesArgs(
        cloud=spec.cloud,
        images=spec.images,
        region=spec.region,
        context_root=Path(__file__).resolve().parent.parent / "training_images",
        gcp_project=spec.gcp_project,
        protect=spec.protect_data,
    ))
    exported: dict[str, Any] = {"imageRepositories": images.repository_urls}
    if images.refs:
        exported["images"] = images.refs
    return dict(images.refs), exported

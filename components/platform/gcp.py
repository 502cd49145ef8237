"""GCP: network -> storage (GCS, Filestore) -> GPU groups and TPU pods -> GKE and its workloads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_gcp as gcp

from aiinfra.catalog.rules.gcp import required_services
from components.compute.gcp_gpu_group import GcpGpuGroup, GcpGpuGroupArgs
from components.compute.tpu_pod import TpuPod, TpuPodArgs
from components.kubernetes.gke import GkeCluster, GkeClusterArgs
from components.kubernetes.identity import GcpWorkloadIdentity, GcpWorkloadIdentityArgs
from components.network.gcp import GcpNetwork, GcpNetworkArgs
from components.network.tiers import tier_row
from components.platform.workloads import Site, build_workloads
from components.spec import StackSpec
from components.storage.gcp import GcpStorage, GcpStorageArgs
from components.workloads.model_server import MODEL_MOUNT, ModelSource
from components.workloads.training_job import SharedVolume


def enable_services(spec: StackSpec) -> list[pulumi.Resource]:
    """The project APIs the stack calls (rules.gcp.required_services), enabled by the stack.

    `disable_on_destroy=False`: other stacks and people in the project use the same APIs, and
    disabling one on destroy would break them (and the teardown of resources still using it)."""
    apis = required_services(gke=spec.kubernetes is not None, tpu=bool(spec.tpu_pods),
                             filestore=spec.storage.filestore.enabled, registry=bool(spec.images.registry))
    return [gcp.projects.Service(f"{spec.prefix}-api-{api.split('.')[0]}", project=spec.gcp_project, service=api,
                                 disable_on_destroy=False, disable_dependent_services=False)
            for api in apis]


def build_gcp(spec: StackSpec, built: Mapping[str, pulumi.Output[str]],
              services: list[pulumi.Resource] | None = None) -> dict[str, Any]:
    prefix = spec.prefix
    net = spec.network
    network = GcpNetwork(prefix, GcpNetworkArgs(
        cidr=net.cidr, region=spec.region, tier=net.tier, flow_logs=net.flow_logs, peered_cidrs=net.peered_cidrs,
        retain_for_data=spec.protect_data and spec.storage.filestore.enabled,
    ), opts=pulumi.ResourceOptions(depends_on=list(services or [])))
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
            bucket_name=storage.bucket_name, labels=spec.tags,
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
        # Queued resources: the state at deploy (WAITING_FOR_RESOURCES) or last `pulumi refresh` (ACTIVE, ...).
        "tpuQueueStates": {name: t.queue_state for name, t in tpus.items() if t.queue_state is not None},
        **(_build_gke(spec, network, storage, built) if spec.kubernetes is not None else {}),
    }


def _build_gke(spec: StackSpec, network: GcpNetwork, storage: GcpStorage,
               built: Mapping[str, pulumi.Output[str]]) -> dict[str, Any]:
    """The GKE cluster, then each workload with its own Workload Identity account on the bucket."""
    k8s_spec = spec.kubernetes
    assert k8s_spec is not None
    cluster = GkeCluster(f"{spec.prefix}-gke", GkeClusterArgs(
        cluster=k8s_spec, project=spec.gcp_project, region=spec.region,
        network=network.network_self_link, subnetwork=network.subnet_self_link,
        pods_range=network.pods_range_name, services_range=network.services_range_name,
        compact_placement=tier_row(spec.network.tier).gcp.compact_placement, protect=spec.protect_data,
        labels=spec.tags,
    ), opts=pulumi.ResourceOptions(depends_on=[network]))

    def identity(name: str, namespace: str, account: str, read: tuple[str, ...], write: tuple[str, ...],
                 opts: pulumi.ResourceOptions) -> Mapping[str, Any]:
        # Bucket-level roles: objectUser for writers, objectViewer for readers (no prefix conditions).
        return GcpWorkloadIdentity(name, GcpWorkloadIdentityArgs(
            project=spec.gcp_project, namespace=namespace, service_account=account,
            bucket_name=storage.bucket_name, write=bool(write),
        ), opts=opts).annotations

    site = Site(
        prefix=spec.prefix, cloud="gcp", cluster=k8s_spec, provider=cluster.provider,
        storage_class=cluster.storage_class, after_cluster=pulumi.ResourceOptions(depends_on=[cluster]),
        identity=identity,
        data_uri=lambda job: pulumi.Output.concat("gs://", storage.bucket_name, "/", job.data_path),
        # The bucket is mounted read-only with GCS FUSE; the server reads a local path.
        model_source=lambda server: ModelSource(uri=f"{MODEL_MOUNT}/{server.model_path}",
                                                gcs_bucket=storage.bucket_name),
        shared_volume=lambda job: filestore_volume(storage, f"{spec.prefix}-{job.name}"),
        images=built,
        # Training queue: ClusterQueue per environment, LocalQueue per team, quotas from the budget file.
        environment=spec.environment.value, team=spec.tags["team"], region=spec.region,
        bucket=storage.bucket_name,
        monthly_budget_usd=spec.budget.monthly_limit_usd if spec.budget else None,
        budget_source=spec.budget.source if spec.budget else "",
    )
    return {"clusterName": cluster.cluster_name, "kubeconfig": cluster.kubeconfig,
            **build_workloads(site, spec.workloads)}


def filestore_volume(storage: GcpStorage, name: str) -> SharedVolume | None:
    """The stack's own Filestore as a static CSI volume (None without one: the CSI class provisions)."""
    if storage.filestore_ip is None or storage.filestore_name is None or storage.filestore_share is None:
        return None
    # Filestore CSI's handle for a pre-existing instance: modeInstance/<location>/<instance>/<share>.
    handle = pulumi.Output.concat("modeInstance/", storage.filestore_location or "", "/", storage.filestore_name,
                                  "/", storage.filestore_share)
    return SharedVolume(name=name, csi_driver="filestore.csi.storage.gke.io", volume_handle=handle,
                        attributes={"ip": storage.filestore_ip, "volume": storage.filestore_share})

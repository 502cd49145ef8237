"""A GKE cluster: private nodes on the GCP network, Workload Identity, a release channel, Dataplane V2
(NetworkPolicy enforcement), Filestore CSI and GCS FUSE CSI; a system pool, GPU pools (GKE-managed
drivers, spot where asked, compact placement) and TPU slice pools (placement topology for multi-host
slices); and a Kubernetes provider built from the cluster's kubeconfig.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from aiinfra.catalog.rules.gcp import gke_node_service_account_roles
from aiinfra.contract import GPU_TAINT_KEY, TPU_TAINT_KEY
from components.kubernetes.config import GpuPoolSpec, KubernetesSpec, TpuPoolSpec, gke_gpu_type
from components.kubernetes.placement import node_labels

FILESTORE_STORAGE_CLASS = "standard-rwx"
"""Built-in class of the Filestore CSI driver (basic HDD, ReadWriteMany)."""
_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


def kubeconfig(cluster_name: str, endpoint: str, ca_data: str) -> str:
    """A kubeconfig that authenticates with `gke-gcloud-auth-plugin` (no static credentials in state)."""
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": f"https://{endpoint}",
                                                        "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "gke-gcloud-auth-plugin",
            "provideClusterInfo": True,
            "installHint": "gcloud components install gke-gcloud-auth-plugin",
        }}}],
    })


def gpu_node_config(pool: GpuPoolSpec, service_account: pulumi.Input[str]) -> dict[str, object]:
    """Node config of a GPU pool: GKE installs the driver; GKE taints GPU nodes itself (`nvidia.com/gpu`)."""
    return {
        "machine_type": pool.instance_type,
        "disk_size_gb": pool.disk_gib,
        "disk_type": "pd-balanced",
        "spot": pool.spot,
        # GKE's spelling of the GPU type, derived from the machine type (the pool carries the canonical name).
        "guest_accelerators": [{"type": gke_gpu_type(pool.instance_type), "count": pool.accelerators_per_node,
                                "gpu_driver_installation_config": {"gpu_driver_version": "LATEST"}}],
        "labels": node_labels(pool),
        "taints": [{"key": GPU_TAINT_KEY, "value": "present", "effect": "NO_SCHEDULE"}],
        **_node_hardening(service_account),
    }


def tpu_node_config(pool: TpuPoolSpec, service_account: pulumi.Input[str]) -> dict[str, object]:
    return {
        "machine_type": pool.machine_type,
        "spot": pool.spot,
        "labels": node_labels(pool),
        "taints": [{"key": TPU_TAINT_KEY, "value": "present", "effect": "NO_SCHEDULE"}],
        **_node_hardening(service_account),
    }


def tpu_pool_autoscaling(pool: TpuPoolSpec) -> dict[str, int]:
    """Autoscaling of a TPU slice pool: 0 to the slice's hosts, in the pool's one zone.

    The pool is created with no nodes, so `pulumi up` never waits for TPU capacity: GKE's node pool
    create operation returns once the pool's nodes are up, and with `node_count = hosts` it waited
    for (or failed on) a whole v5e slice. The cluster autoscaler adds the slice when a pod that
    requests `google.com/tpu` is pending (an admitted training run) and removes it when idle.

    Sources (read 2026-11-30):
    - "About TPUs in GKE" (https://cloud.google.com/kubernetes-engine/docs/concepts/tpus, read in its
      zh-CN edition), terminology, *atomicity*: GKE treats all interconnected nodes of a slice as one
      unit; during scaling operations it scales the whole group to 0 and creates new nodes, and if it
      cannot create one node of a multi-host slice it creates none.
    - keras-team/kinetic#26 (2026-02-18): "TPU node pools in GKE can scale to zero. This requires
      enabling the Cluster Autoscaler for the node pool and setting the minimum node count to 0.
      For multi-host TPU slices, GKE atomically scales the pool from zero to the full topology size";
      kinetic#88 sets min 0 for its multi-host pools.
    - vllm-project/ci-infra#545 (2026-09-11): GKE validates a multi-host slice pool against the
      per-zone `max_node_count` ("Maximum node count 0 is not a valid size of TPU pod slice with
      topology 2x2x2" when only `total_max_node_count` is set), so the limits here are per zone,
      and the pool has exactly one zone (`node_locations`).
    Versions: node auto-provisioning of TPU pools needs 1.27.6/1.28+ (v4, v5e) and 1.28.7-gke.1020000 /
    1.29.2-gke.1035000+ (v5p) ("Use node auto-provisioning", cloud.google.com/kubernetes-engine/docs/
    how-to/node-auto-provisioning); no narrower limit for autoscaling a user-created slice pool was
    found; the stacks run 1.31 to 1.35.
    """
    return {"min_node_count": 0, "max_node_count": pool.hosts}


def _node_hardening(service_account: pulumi.Input[str]) -> dict[str, object]:
    return {
        "service_account": service_account,
        "oauth_scopes": _SCOPES,
        # Pods see the GKE metadata server (Workload Identity), never the node's credentials.
        "workload_metadata_config": {"mode": "GKE_METADATA"},
        "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
        "metadata": {"disable-legacy-endpoints": "true"},
    }


@dataclass(frozen=True)
class GkeClusterArgs:
    cluster: KubernetesSpec
    """Version, channel, endpoint access, system/GPU/TPU pools (validated by the spec)."""
    project: str
    region: str
    network: pulumi.Input[str]
    """VPC self link or id."""
    subnetwork: pulumi.Input[str]
    pods_range: str = "pods"
    """Secondary range of the subnet for pod IPs."""
    services_range: str = "services"
    master_cidr: str = "172.16.0.0/28"
    """The control plane's private /28 (must not overlap the VPC)."""
    compact_placement: bool = False
    """GPU pools get a compact placement policy (from the tier)."""
    protect: bool = False
    """Prod: deletion protection on the cluster."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Cost labels for the cluster and every node (GKE resources take them in their own fields)."""


class GkeCluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    """Secret: the kubeconfig (exec auth through gke-gcloud-auth-plugin)."""
    node_service_account: pulumi.Output[str]
    """Email of the nodes' least-privilege service account."""
    workload_pool: str
    """Workload Identity pool (`<project>.svc.id.goog`)."""
    provider: k8s.Provider
    storage_class: str

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:GkeCluster", name, None, opts)
        spec = args.cluster
        child = pulumi.ResourceOptions(parent=self)
        self.workload_pool = f"{args.project}.svc.id.goog"

        # Nodes run as a dedicated account with GKE's node role (logs, metrics, metadata) that may pull images.
        nodes_sa = gcp.serviceaccount.Account(f"{name}-nodes", account_id=f"{name[:20]}-nodes".strip("-"),
                                              display_name=f"{name} GKE nodes", project=args.project, opts=child)
        for role in (*gke_node_service_account_roles(), "roles/artifactregistry.reader"):
            gcp.projects.IAMMember(f"{name}-nodes-{role.split('/')[1].replace('.', '-').lower()}",
                                   project=args.project, role=role, member=nodes_sa.member, opts=child)

        cluster = gcp.container.Cluster(
            f"{name}-control-plane",
            name=name,
            project=args.project,
            location=args.region,
            network=args.network,
            subnetwork=args.subnetwork,
            min_master_version=spec.version,
            release_channel={"channel": spec.release_channel.value},
            # Node pools are managed below; the default pool is removed once the cluster exists.
            remove_default_node_pool=True,
            initial_node_count=1,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy={"cluster_secondary_range_name": args.pods_range,
                                  "services_secondary_range_name": args.services_range},
            private_cluster_config={"enable_private_nodes": True,
                                    "enable_private_endpoint": spec.private_endpoint,
                                    "master_ipv4_cidr_block": args.master_cidr},
            # Only the deploy runner reaches the API server: its egress on a public endpoint, its
            # private range on a private one (kubernetes.apiAccessCidrs).
            master_authorized_networks_config={"cidr_blocks": [
                {"cidr_block": c, "display_name": f"deploy-runner-{i}"} for i, c in enumerate(spec.api_access_cidrs)],
                "gcp_public_cidrs_access_enabled": False},
            workload_identity_config={"workload_pool": self.workload_pool},
            datapath_provider="ADVANCED_DATAPATH",
            addons_config={
                "gcp_filestore_csi_driver_config": {"enabled": True},
                "gcs_fuse_csi_driver_config": {"enabled": True},
                "gce_persistent_disk_csi_driver_config": {"enabled": True},
            },
            enable_shielded_nodes=True,
            enable_legacy_abac=False,
            master_auth={"client_certificate_config": {"issue_client_certificate": False}},
            node_config={"service_account": nodes_sa.email, "oauth_scopes": _SCOPES},
            deletion_protection=args.protect,
            resource_labels=dict(args.labels),
            opts=child,
        )
        labels = dict(args.labels)

        system = spec.system_pool
        gcp.container.NodePool(  # type: ignore[call-overload]
            f"{name}-system", cluster=cluster.id, location=args.region, project=args.project,
            autoscaling={"min_node_count": system.min_size, "max_node_count": system.max_size},
            initial_node_count=system.desired_size,
            management={"auto_repair": True, "auto_upgrade": True},
            node_config={"machine_type": system.instance_type, "disk_size_gb": 100, "disk_type": "pd-balanced",
                         "labels": node_labels(None), "resource_labels": labels,
                         **_node_hardening(nodes_sa.email)},
            opts=child,
        )
        for pool in spec.gpu_pools:
            gcp.container.NodePool(  # type: ignore[call-overload]
                f"{name}-{pool.name}", cluster=cluster.id, location=args.region, project=args.project,
                autoscaling={"min_node_count": pool.min_size, "max_node_count": pool.max_size},
                initial_node_count=pool.desired_size,
                management={"auto_repair": True, "auto_upgrade": True},
                # Accelerator pools are zonal: compact placement and TPU slices live in one zone.
                node_locations=[spec.zone],
                placement_policy={"type": "COMPACT"} if args.compact_placement else None,
                node_config={**gpu_node_config(pool, nodes_sa.email), "resource_labels": labels},
                # Created with desiredSize nodes (minSize unless set: 0 waits for no GPU); the cluster autoscaler
                # owns the size after that, and initialNodeCount forces a new pool if it drifts (SDK docs).
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["initialNodeCount"]),
            )
        for tpu in spec.tpu_pools:
            # A slice is all-or-nothing: created empty, scaled by the cluster autoscaler between 0 and
            # the slice's hosts (tpu_pool_autoscaling), the topology in the placement policy.
            gcp.container.NodePool(  # type: ignore[call-overload]
                f"{name}-{tpu.name}", cluster=cluster.id, location=args.region, project=args.project,
                autoscaling=tpu_pool_autoscaling(tpu),
                initial_node_count=0,
                node_locations=[spec.zone],
                management={"auto_repair": True, "auto_upgrade": True},
                placement_policy={"type": "COMPACT", "tpu_topology": tpu.topology} if tpu.hosts > 1 else None,
                node_config={**tpu_node_config(tpu, nodes_sa.email), "resource_labels": labels},
                # The autoscaler owns the size; initialNodeCount forces a new pool if it drifts (SDK docs).
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["initialNodeCount"]),
            )

        rendered: pulumi.Output[str] = pulumi.Output.all(
            cluster.name, cluster.endpoint, cluster.master_auth.cluster_ca_certificate,
        ).apply(lambda v: kubeconfig(v[0], v[1], v[2]))
        config: pulumi.Output[str] = pulumi.Output.secret(rendered)  # type: ignore[arg-type]
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=config, enable_server_side_apply=True,
                                     opts=child)
        self.cluster_name = cluster.name
        self.kubeconfig = config
        self.node_service_account = nodes_sa.email
        self.storage_class = FILESTORE_STORAGE_CLASS
        self.register_outputs({"cluster_name": self.cluster_name, "kubeconfig": self.kubeconfig})

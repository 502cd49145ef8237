"""An EKS cluster: control plane (secrets encrypted with KMS, private endpoint option, audit logs), OIDC
provider for IRSA, managed node groups (a CPU system group, GPU groups on the accelerated AMI), add-ons
(VPC CNI, CoreDNS, kube-proxy, EFS CSI driver), the NVIDIA and EFA device plugins, and a Kubernetes
provider built from the cluster's kubeconfig.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from aiinfra.contract import GPU_TAINT_KEY
from components.kubernetes import cluster_autoscaler, device_plugins
from components.kubernetes import manifests as pods
from components.kubernetes.config import GpuPoolSpec, KubernetesSpec
from components.kubernetes.device_plugins import EFA_LABEL
from components.kubernetes.identity import irsa_trust_policy
from components.kubernetes.placement import node_labels

_MANAGED = "arn:aws:iam::aws:policy/"
SYSTEM_AMI = "AL2023_x86_64_STANDARD"
GPU_AMI = "AL2023_x86_64_NVIDIA"
"""EKS-optimized accelerated AL2023: NVIDIA driver and container toolkit preinstalled (no device plugin)."""
EFS_STORAGE_CLASS = "efs-sc"
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig that authenticates with `aws eks get-token` (no static credentials in state)."""
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
        }}}],
    })


def gpu_taints() -> list[dict[str, str]]:
    """Only pods that tolerate GPUs (and ask for them) land on GPU nodes."""
    return [{"key": GPU_TAINT_KEY, "value": "present", "effect": "NO_SCHEDULE"}]


def gpu_node_labels(pool: GpuPoolSpec) -> dict[str, str]:
    labels = node_labels(pool)
    if pool.efa_interfaces:
        labels[EFA_LABEL] = "true"
    return labels


@dataclass(frozen=True)
class EksClusterArgs:
    cluster: KubernetesSpec
    """Version, endpoint access, system and GPU pools (validated by the spec)."""
    region: str
    subnet_ids: pulumi.Input[list[str]]
    """Private subnets: control plane interfaces and system nodes."""
    gpu_subnet_ids: pulumi.Input[list[str]]
    """Where GPU nodes launch (the single-AZ GPU subnet on `ultra`)."""
    efa_security_group_id: pulumi.Input[str] | None = None
    """Self-referencing EFA group (ultra tier), attached to EFA node interfaces."""
    cluster_placement: bool = False
    """GPU node groups launch into a `cluster` placement group (from the tier)."""
    efs_file_system_id: pulumi.Input[str] | None = None
    """Shared file system for ReadWriteMany volumes (storage class `efs-sc`)."""
    protect: bool = False
    """Prod: deletion protection on the control plane, and volumes retained when claims go."""


class EksCluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    """Secret: the kubeconfig (exec auth through the AWS CLI)."""
    oidc_provider_arn: pulumi.Output[str]
    """IAM OIDC provider for IRSA roles."""
    oidc_issuer_url: pulumi.Output[str]
    provider: k8s.Provider
    """Kubernetes provider for objects in this cluster."""
    storage_class: str | None
    """ReadWriteMany storage class on EFS, or None without EFS."""

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:EksCluster", name, None, opts)
        spec = args.cluster
        child = pulumi.ResourceOptions(parent=self)

        role = aws.iam.Role(f"{name}-cluster", assume_role_policy=_service_trust("eks.amazonaws.com"), opts=child)
        attach = aws.iam.RolePolicyAttachment(f"{name}-cluster", role=role.name,
                                              policy_arn=f"{_MANAGED}AmazonEKSClusterPolicy", opts=child)
        key = aws.kms.Key(f"{name}-secrets", description=f"{name}: envelope encryption of Kubernetes secrets",
                          enable_key_rotation=True, deletion_window_in_days=30, opts=child)
        # EKS would create this group with no expiry; owning it keeps audit logs bounded and tagged.
        logs = aws.cloudwatch.LogGroup(f"{name}-logs", name=f"/aws/eks/{name}/cluster", retention_in_days=90,
                                       opts=child)
        cluster = aws.eks.Cluster(
            f"{name}-control-plane",
            name=name,
            version=spec.version,
            role_arn=role.arn,
            vpc_config={
                "subnet_ids": args.subnet_ids,
                "endpoint_private_access": True,
                "endpoint_public_access": not spec.private_endpoint,
                # A public endpoint admits only the deploy runner's egress (omitted, EKS opens it to 0.0.0.0/0).
                "public_access_cidrs": None if spec.private_endpoint else list(spec.api_access_cidrs),
            },
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=list(LOG_TYPES),
            # The add-ons below are managed explicitly (versions, IRSA roles); none are self-installed.
            bootstrap_self_managed_addons=False,
            deletion_protection=args.protect,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attach, logs]),
        )
        if spec.private_endpoint:
            # A runner inside the VPC (or a peered network) reaches the private endpoint only through
            # the cluster security group, which admits nothing but itself by default.
            for i, cidr in enumerate(spec.api_access_cidrs):
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-api-runner-{i}", security_group_id=cluster.vpc_config.cluster_security_group_id,
                    cidr_ipv4=cidr, ip_protocol="tcp", from_port=443, to_port=443,
                    description="Kubernetes API from the in-VPC deploy runner", opts=child)
        issuer = cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)  # type: ignore[index, union-attr]
        oidc = aws.iam.OpenIdConnectProvider(f"{name}-oidc", url=issuer, client_id_lists=["sts.amazonaws.com"],
                                             opts=child)

        node_role = aws.iam.Role(f"{name}-nodes", assume_role_policy=_service_trust("ec2.amazonaws.com"), opts=child)
        # The CNI policy is not here: the VPC CNI gets it through its own IRSA role (least privilege for nodes).
        node_attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-nodes-{short}", role=node_role.name,
                                         policy_arn=f"{_MANAGED}{policy}", opts=child)
            for short, policy in (("worker", "AmazonEKSWorkerNodePolicy"),
                                  ("ecr", "AmazonEC2ContainerRegistryReadOnly"))
        ]

        cni_role = self._irsa_role(f"{name}-vpc-cni", oidc, issuer, "kube-system", "aws-node",
                                   f"{_MANAGED}AmazonEKS_CNI_Policy")
        cni = aws.eks.Addon(f"{name}-vpc-cni", cluster_name=cluster.name, addon_name="vpc-cni",
                            service_account_role_arn=cni_role.arn,
                            # NetworkPolicy objects are enforced only with the CNI's policy agent on.
                            configuration_values=json.dumps({"enableNetworkPolicy": "true"}),
                            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
                            opts=child)
        proxy = aws.eks.Addon(f"{name}-kube-proxy", cluster_name=cluster.name, addon_name="kube-proxy",
                              resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
                              opts=child)

        node_deps = [*node_attachments, cni, proxy]
        system = spec.system_pool
        system_lt = self._launch_template(f"{name}-system", 100, 0, None, None, None)
        system_group = aws.eks.NodeGroup(  # type: ignore[call-overload]
            f"{name}-system",
            cluster_name=cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=args.subnet_ids,
            ami_type=SYSTEM_AMI,
            capacity_type="ON_DEMAND",
            instance_types=[system.instance_type],
            scaling_config={"min_size": system.min_size, "desired_size": system.desired_size,
                            "max_size": system.max_size},
            labels=node_labels(None),
            launch_template={"id": system_lt.id, "version": system_lt.latest_version.apply(str)},
            update_config={"max_unavailable": 1},
            opts=pulumi.ResourceOptions(parent=self, depends_on=node_deps,
                                        ignore_changes=["scalingConfig.desiredSize"]),
        )

        gpu_groups = []
        for pool in spec.gpu_pools:
            placement_group = None
            pool_subnets: pulumi.Input[list[str]] = args.gpu_subnet_ids
            if args.cluster_placement:
                placement_group = aws.ec2.PlacementGroup(f"{name}-{pool.name}-pg", strategy="cluster", opts=child)
                # A cluster placement group is single-AZ (rules.aws.cluster_placement_group_azs).
                pool_subnets = pulumi.Output.from_input(args.gpu_subnet_ids).apply(lambda ids: ids[:1])
            lt = self._launch_template(f"{name}-{pool.name}", pool.disk_gib, pool.efa_interfaces,
                                       cluster.vpc_config.cluster_security_group_id,
                                       args.efa_security_group_id, placement_group)
            gpu_groups.append(aws.eks.NodeGroup(  # type: ignore[call-overload]
                f"{name}-{pool.name}",
                cluster_name=cluster.name,
                node_role_arn=node_role.arn,
                subnet_ids=pool_subnets,
                ami_type=GPU_AMI,
                capacity_type="SPOT" if pool.spot else "ON_DEMAND",
                instance_types=[pool.instance_type],
                scaling_config={"min_size": pool.min_size, "desired_size": pool.desired_size,
                                "max_size": pool.max_size},
                labels=gpu_node_labels(pool),
                taints=gpu_taints(),
                launch_template={"id": lt.id, "version": lt.latest_version.apply(str)},
                update_config={"max_unavailable": 1},
                node_repair_config={"enabled": True},
                # The cluster autoscaler moves desired size at run time; `pulumi up` must not undo it.
                opts=pulumi.ResourceOptions(parent=self, depends_on=node_deps,
                                            ignore_changes=["scalingConfig.desiredSize"]),
            ))
            # What a node of this pool offers, for scale-up while the group is empty.
            asg_name = gpu_groups[-1].resources.apply(
                lambda r: r[0].autoscaling_groups[0].name)  # type: ignore[index, union-attr]
            for i, (tag_key, tag_value) in enumerate(sorted(
                    cluster_autoscaler.node_template_tags(pool, gpu_node_labels(pool)).items())):
                aws.autoscaling.Tag(f"{name}-{pool.name}-template-{i}", autoscaling_group_name=asg_name,
                                    tag={"key": tag_key, "value": tag_value, "propagate_at_launch": False},
                                    opts=child)

        # CoreDNS needs nodes to run on.
        aws.eks.Addon(f"{name}-coredns", cluster_name=cluster.name, addon_name="coredns",
                      resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
                      opts=pulumi.ResourceOptions(parent=self, depends_on=[system_group]))
        addons_ready: list[pulumi.Resource] = [system_group]
        # HPAs read CPU from the metrics API, which EKS does not serve without metrics-server.
        addons_ready.append(aws.eks.Addon(
            f"{name}-metrics-server", cluster_name=cluster.name, addon_name="metrics-server",
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[system_group])))
        autoscaler_role = self._irsa_role(f"{name}-autoscaler", oidc, issuer, cluster_autoscaler.NAMESPACE,
                                          cluster_autoscaler.NAME, None,
                                          inline=cluster_autoscaler.iam_policy(name))
        if args.efs_file_system_id is not None:
            efs_role = self._irsa_role(f"{name}-efs-csi", oidc, issuer, "kube-system", "efs-csi-controller-sa",
                                       f"{_MANAGED}service-role/AmazonEFSCSIDriverPolicy")
            addons_ready.append(aws.eks.Addon(
                f"{name}-efs-csi", cluster_name=cluster.name, addon_name="aws-efs-csi-driver",
                service_account_role_arn=efs_role.arn, resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE", opts=pulumi.ResourceOptions(parent=self,
                                                                                   depends_on=[system_group])))

        rendered: pulumi.Output[str] = pulumi.Output.all(
            cluster.name, cluster.endpoint, cluster.certificate_authority.data,
        ).apply(lambda v: kubeconfig(v[0], v[1], v[2], args.region))
        config: pulumi.Output[str] = pulumi.Output.secret(rendered)  # type: ignore[arg-type]
        provider = k8s.Provider(f"{name}-k8s", kubeconfig=config, enable_server_side_apply=True,
                                opts=pulumi.ResourceOptions(parent=self, depends_on=addons_ready))
        on_cluster = pulumi.ResourceOptions(parent=self, provider=provider)

        plugins = [device_plugins.nvidia_device_plugin()] if spec.gpu_pools else []
        if any(p.efa_interfaces for p in spec.gpu_pools):
            plugins.append(device_plugins.efa_device_plugin(args.region))
        for manifest in plugins:
            plugin = manifest["metadata"]["name"]
            pods.register(f"{name}-{plugin}", [manifest, device_plugins.deny_ingress(plugin)], on_cluster)
        # Something must move the node groups between minSize and maxSize: the Cluster Autoscaler.
        pods.register(f"{name}-{cluster_autoscaler.NAME}", cluster_autoscaler.manifests(
            name, spec.version, args.region, autoscaler_role.arn, node_labels(None)), on_cluster)

        self.storage_class = None
        if args.efs_file_system_id is not None:
            pods.register(name, [efs_storage_class(args.efs_file_system_id, args.protect)], on_cluster)
            self.storage_class = EFS_STORAGE_CLASS

        self.cluster_name = cluster.name
        self.kubeconfig = config
        self.oidc_provider_arn = oidc.arn
        self.oidc_issuer_url = issuer
        self.provider = provider
        self.register_outputs({"cluster_name": self.cluster_name, "kubeconfig": self.kubeconfig,
                               "oidc_provider_arn": self.oidc_provider_arn})

    def _irsa_role(self, name: str, oidc: aws.iam.OpenIdConnectProvider, issuer: pulumi.Output[str],
                   namespace: str, service_account: str, policy_arn: str | None,
                   inline: pulumi.Input[str] | None = None) -> aws.iam.Role:
        child = pulumi.ResourceOptions(parent=self)
        trust = pulumi.Output.all(oidc.arn, issuer).apply(
            lambda v: irsa_trust_policy(v[0], v[1], namespace, service_account))
        role = aws.iam.Role(f"{name}-irsa", assume_role_policy=trust, opts=child)
        if policy_arn is not None:
            aws.iam.RolePolicyAttachment(f"{name}-irsa", role=role.name, policy_arn=policy_arn, opts=child)
        if inline is not None:
            aws.iam.RolePolicy(f"{name}-irsa", role=role.id, policy=inline, opts=child)
        return role

    def _launch_template(self, name: str, disk_gib: int, efa_interfaces: int,
                         cluster_sg: pulumi.Input[str] | None, efa_sg: pulumi.Input[str] | None,
                         placement_group: aws.ec2.PlacementGroup | None) -> aws.ec2.LaunchTemplate:
        """IMDSv2 with hop limit 1 (pods use IRSA, never the node role), encrypted gp3 root, EFA interfaces."""
        interfaces = None
        if efa_interfaces:
            groups = [g for g in (cluster_sg, efa_sg) if g is not None]
            interfaces = [{"device_index": 0 if i == 0 else 1, "network_card_index": i, "interface_type": "efa",
                           "security_groups": groups, "delete_on_termination": "true"}
                          for i in range(efa_interfaces)]
        return aws.ec2.LaunchTemplate(  # type: ignore[call-overload]
            f"{name}-lt",
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                              "http_put_response_hop_limit": 1, "instance_metadata_tags": "disabled"},
            block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {
                "volume_size": disk_gib, "volume_type": "gp3", "encrypted": "true",
                "delete_on_termination": "true"}}],
            network_interfaces=interfaces,
            placement={"group_name": placement_group.name} if placement_group is not None else None,
            monitoring={"enabled": True},
            update_default_version=True,
            opts=pulumi.ResourceOptions(parent=self),
        )


def efs_storage_class(file_system_id: pulumi.Input[str], retain: bool) -> pods.Manifest:
    """Dynamic EFS access points, one per claim, owned by the images' non-root user; one directory per claim NAME.

    The driver roots each access point at `<basePath>/<subPathPattern>` and, unless `ensureUniqueDirectory` is
    "false", appends a UUID to it (default pattern `${.PV.name}`: a fresh directory per claim). Here the pattern is
    the claim's name with no UUID, so every claim called `checkpoints-<folder>`, in any namespace, mounts
    `/k8s/checkpoints-<folder>`: a training job renamed with the same `checkpointPath` (a new namespace, a new
    claim) finds its predecessor's checkpoints (aws-efs-csi-driver docs/parameters.md: `subPathPattern` supports
    `.PVC.name`, `.PVC.namespace`, `.PV.name`; `ensureUniqueDirectory`). Deleting a claim deletes its access point,
    never the directory (the controller's `delete-access-point-root-dir` is off by default and not set here).
    The class serves only the training jobs' checkpoint claims (training_job.checkpoint_claim)."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": EFS_STORAGE_CLASS, "labels": dict(pods.PART_OF)},
        "provisioner": "efs.csi.aws.com",
        "parameters": {"provisioningMode": "efs-ap", "fileSystemId": file_system_id, "directoryPerms": "700",
                       "uid": str(pods.RUN_AS_USER), "gid": str(pods.RUN_AS_USER),
                       "basePath": "/k8s", "subPathPattern": "${.PVC.name}", "ensureUniqueDirectory": "false"},
        "reclaimPolicy": "Retain" if retain else "Delete",
        "volumeBindingMode": "Immediate",
    }


def _service_trust(service: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}],
    })

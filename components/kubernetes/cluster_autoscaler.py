"""The Kubernetes Cluster Autoscaler on EKS: what moves the managed node groups' desired size.

Why Cluster Autoscaler and not Karpenter: the program already runs EKS managed node groups
(EKS-owned AMI updates, node repair, the EFA launch templates the review checked), and EKS tags
their auto scaling groups for auto-discovery (`k8s.io/cluster-autoscaler/enabled`,
`k8s.io/cluster-autoscaler/<cluster>`). Cluster Autoscaler scales exactly those groups between
the configured minSize and maxSize, with core Kubernetes objects only (no CRDs to vendor or
upgrade). Karpenter would replace the node groups by NodePools and EC2NodeClasses with its own
launch templates; worth it when pools should pick among many instance types, which these
single-type accelerator pools do not.

Scale-up from zero needs to know what a node of an empty group offers: the groups' ASGs carry
`k8s.io/cluster-autoscaler/node-template/*` tags (labels, taint, GPUs and EFA interfaces),
because the EKS DescribeNodegroup fallback only works for groups that never had a node
(cluster-autoscaler/cloudprovider/aws/README.md). The manifests follow the project's
`cluster-autoscaler-autodiscover.yaml` example, hardened (non-root, read-only root, no token
automount beyond the API client's own, system pool only).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pulumi

from aiinfra.contract import GPU_RESOURCE, GPU_TAINT_KEY
from components.kubernetes.config import GpuPoolSpec, cluster_autoscaler_image
from components.kubernetes.manifests import PART_OF, Manifest
from components.kubernetes.placement import EFA_RESOURCE

NAME = "cluster-autoscaler"
NAMESPACE = "kube-system"
_TEMPLATE = "k8s.io/cluster-autoscaler/node-template"


def node_template_tags(pool: GpuPoolSpec, labels: Mapping[str, str]) -> dict[str, str]:
    """ASG tags that describe a node of the pool to the autoscaler while the group is empty."""
    tags = {f"{_TEMPLATE}/label/{k}": v for k, v in labels.items()}
    tags[f"{_TEMPLATE}/taint/{GPU_TAINT_KEY}"] = "present:NoSchedule"
    if pool.accelerators_per_node:
        tags[f"{_TEMPLATE}/resources/{GPU_RESOURCE}"] = str(pool.accelerators_per_node)
    if pool.efa_interfaces:
        tags[f"{_TEMPLATE}/resources/{EFA_RESOURCE}"] = str(pool.efa_interfaces)
    return tags


def iam_policy(cluster_name: str) -> str:
    """Describe anything; change the size only of groups tagged as this cluster's (owned)."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Describe", "Effect": "Allow", "Resource": "*", "Action": [
                "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
                "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
                "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
                "eks:DescribeNodegroup"]},
            {"Sid": "ScaleOwnGroups", "Effect": "Allow", "Resource": "*",
             "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
             "Condition": {"StringEquals": {
                 f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}}},
        ],
    })


def manifests(cluster_name: str, kubernetes_version: str, region: str, role_arn: pulumi.Input[str],
              node_selector: Mapping[str, str]) -> list[Manifest]:
    """Service account (IRSA), RBAC and the Deployment, from the upstream auto-discovery example."""
    labels = {**PART_OF, "app.kubernetes.io/name": NAME}
    meta = {"name": NAME, "labels": labels}
    core_read = ["namespaces", "pods", "services", "replicationcontrollers", "persistentvolumeclaims",
                 "persistentvolumes"]
    cluster_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": dict(meta),
        "rules": [
            {"apiGroups": [""], "resources": ["events", "endpoints"], "verbs": ["create", "patch"]},
            {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["update"]},
            {"apiGroups": [""], "resources": ["endpoints"], "resourceNames": [NAME], "verbs": ["get", "update"]},
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["watch", "list", "get", "update"]},
            {"apiGroups": [""], "resources": core_read, "verbs": ["watch", "list", "get"]},
            {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["watch", "list"]},
            {"apiGroups": ["apps"], "resources": ["statefulsets", "replicasets", "daemonsets"],
             "verbs": ["watch", "list", "get"]},
            {"apiGroups": ["resource.k8s.io"], "resources": ["deviceclasses", "resourceslices", "resourceclaims"],
             "verbs": ["watch", "list", "get"]},
            {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses", "csinodes", "csidrivers",
                                                            "csistoragecapacities", "volumeattachments"],
             "verbs": ["watch", "list", "get"]},
            {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch", "patch"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": [NAME],
             "verbs": ["get", "update"]},
        ],
    }
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {**meta, "namespace": NAMESPACE},
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "list", "watch"]},
            {"apiGroups": [""], "resources": ["configmaps"],
             "resourceNames": ["cluster-autoscaler-status", "cluster-autoscaler-priority-expander"],
             "verbs": ["delete", "get", "update", "watch"]},
        ],
    }
    subject = [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]
    bindings = [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": dict(meta),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
         "subjects": subject},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {**meta, "namespace": NAMESPACE},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
         "subjects": subject},
    ]
    account = {"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {**meta, "namespace": NAMESPACE, "annotations": {"eks.amazonaws.com/role-arn": role_arn}}}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {**meta, "namespace": NAMESPACE, "annotations": {
            # The autoscaler talks to the API server: it needs its service account token.
            "checkov.io/skip1": "CKV_K8S_38=the autoscaler reads and scales nodes through the API server",
            "checkov.io/skip2": "CKV_K8S_43=the image is pinned by tag from versions.json (source and date)",
        }},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "priorityClassName": "system-cluster-critical",
                    "serviceAccountName": NAME,
                    "automountServiceAccountToken": True,
                    "nodeSelector": dict(node_selector),
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                                        "fsGroup": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": NAME,
                        "image": cluster_autoscaler_image(kubernetes_version),
                        "imagePullPolicy": "IfNotPresent",
                        "command": [
                            "./cluster-autoscaler", "--cloud-provider=aws", "--v=2", "--stderrthreshold=info",
                            "--skip-nodes-with-local-storage=false", "--expander=least-waste",
                            "--balance-similar-node-groups", "--skip-nodes-with-system-pods=false",
                            "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
                            f"k8s.io/cluster-autoscaler/{cluster_name}",
                        ],
                        "env": [{"name": "AWS_REGION", "value": region}],
                        "resources": {"requests": {"cpu": "100m", "memory": "600Mi"},
                                      "limits": {"cpu": "1", "memory": "600Mi"}},
                        "livenessProbe": {"httpGet": {"path": "/health-check", "port": 8085},
                                          "initialDelaySeconds": 30, "periodSeconds": 30},
                        "readinessProbe": {"httpGet": {"path": "/health-check", "port": 8085},
                                           "periodSeconds": 30},
                        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "runAsNonRoot": True, "runAsUser": 65534,
                                            "capabilities": {"drop": ["ALL"]}},
                    }],
                },
            },
        },
    }
    # Only the kubelet's health probes and metrics scrapes come in, on the status port.
    netpol = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "metadata": {"name": f"{NAME}-ingress", "namespace": NAMESPACE, "labels": labels},
              "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": NAME}}, "policyTypes": ["Ingress"],
                       "ingress": [{"ports": [{"protocol": "TCP", "port": 8085}]}]}}
    return [account, cluster_role, role, *bindings, deployment, netpol]

"""A GPU server's minimum replicas are priced as the nodes they keep up beyond the pool's own minimum."""

from __future__ import annotations

from typing import Any

from aiinfra.catalog.prices import hourly_price
from aiinfra.costs.estimate import estimate_stack
from aiinfra.costs.model import CostResource, Status

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SCALED = "kubernetes:keda.sh/v1alpha1:ScaledObject"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
GKE_POOL = "gcp:container/nodePool:NodePool"
EKS_GROUP = "aws:eks/nodeGroup:NodeGroup"


def _gke_pool(low: int, high: int) -> CostResource:
    return CostResource("urn:pool", GKE_POOL, "gke-l4", {
        "autoscaling": {"minNodeCount": low, "maxNodeCount": high},
        "nodeConfig": {"machineType": "g2-standard-24", "labels": {"ai-infra/pool": "l4"}, "diskSizeGb": 200,
                       "diskType": "pd-balanced"}})


def _deployment(gpus: int, itype: str = "g2-standard-24", pool: str = "l4") -> CostResource:
    container: dict[str, Any] = {"name": "vllm", "resources": {"limits": {"cpu": "16"}}}
    if gpus:
        container["resources"]["limits"]["nvidia.com/gpu"] = gpus
    return CostResource("urn:dep", DEPLOYMENT, "llm-chat-deployment", {
        "metadata": {"name": "llm-chat", "namespace": "llm-chat"},
        "spec": {"template": {"spec": {
            "nodeSelector": {"node.kubernetes.io/instance-type": itype, "ai-infra/pool": pool},
            "containers": [container]}}}})


def _scaled(low: int, high: int) -> CostResource:
    return CostResource("urn:so", SCALED, "llm-chat-scaledobject", {
        "metadata": {"name": "llm-chat", "namespace": "llm-chat"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "llm-chat"}, "minReplicaCount": low,
                 "maxReplicaCount": high}})


def _line(resources: list[CostResource], region: str = "us-central1") -> Any:
    return next(line for line in estimate_stack(resources, region=region).lines if line.type == DEPLOYMENT)


def test_gcp_prod_shape_one_replica_on_a_pool_from_zero_keeps_one_node_all_month() -> None:
    # gcp-prod: vLLM on 2 L4s per replica, minReplicas 1, on pool l4 (g2-standard-24, 2 L4s, min 0 max 2).
    line = _line([_gke_pool(0, 2), _deployment(2), _scaled(1, 2)])
    price = hourly_price("g2-standard-24", "us-central1").hourly_usd
    assert line.status is Status.PRICED
    assert round(line.monthly_usd, 2) == round(730 * price, 2) == 1460.62
    # maxReplicas 2 need 2 nodes: the pool's worst-case line already prices its maximum 2.
    assert line.worst_monthly_usd == 0
    assert line.accelerators == 2
    assert "1 replicas x 2 GPUs" in line.basis and "pool l4 keeps 0" in line.basis
    assert "1 x g2-standard-24 x 730 h x $2.00" in line.basis


def test_nodes_the_pool_keeps_are_not_counted_twice() -> None:
    line = _line([_gke_pool(1, 2), _deployment(2), _scaled(1, 2)])
    assert line.monthly_usd == 0 and line.worst_monthly_usd == 0
    assert "already priced on the pool's line" in line.basis


def test_replicas_pack_onto_nodes_by_gpus_and_only_the_shortfall_is_priced() -> None:
    # 5 replicas x 1 GPU on 2-GPU nodes need 3 nodes; the pool keeps 1: 2 extra. At most 6 replicas need 3
    # nodes, beyond a maximum of 2: 1 extra in the worst case.
    line = _line([_gke_pool(1, 2), _deployment(1), _scaled(5, 6)])
    price = hourly_price("g2-standard-24", "us-central1").hourly_usd
    assert round(line.monthly_usd, 2) == round(2 * 730 * price, 2) == 2921.23
    assert round(line.worst_monthly_usd, 2) == round(730 * price, 2)


def test_an_hpa_decides_the_floor_on_eks() -> None:
    group = CostResource("urn:ng", EKS_GROUP, "eks-h100", {
        "labels": {"ai-infra/pool": "k8s-h100"}, "instanceTypes": ["p5.48xlarge"],
        "scalingConfig": {"minSize": 0, "desiredSize": 0, "maxSize": 4}})
    hpa = CostResource("urn:hpa", HPA, "hpa", {"metadata": {"name": "llm-chat", "namespace": "llm-chat"},
                                               "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "llm-chat"},
                                                        "minReplicas": 9, "maxReplicas": 9}})
    line = _line([group, _deployment(1, "p5.48xlarge", "k8s-h100"), hpa], region="us-east-1")
    price = hourly_price("p5.48xlarge", "us-east-1").hourly_usd
    # 9 replicas x 1 GPU on 8-GPU nodes: 2 nodes, none kept.
    assert abs(line.monthly_usd - 2 * 730 * price) < 0.01
    assert "its HPA's minReplicas/maxReplicas" in line.basis


def test_cpu_deployments_are_free_and_an_unknown_pool_is_unpriced() -> None:
    assert _line([_deployment(0)]).status is Status.FREE
    line = _line([_deployment(2), _scaled(1, 2)])
    assert line.status is Status.UNPRICED
    assert "no cluster pool is labelled ai-infra/pool=l4" in (line.reason or "")

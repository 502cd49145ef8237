"""Pricing holes the security review found (finding 8, 18, 19): each now priced, or unpriced so it blocks."""

from __future__ import annotations

from typing import Any

import pytest

from aiinfra.costs import CostResource, Status, estimate_stack
from aiinfra.costs.model import CostLine

SVC = "kubernetes:core/v1:Service"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
POOL = "gcp:container/nodePool:NodePool"


def line(type_: str, inputs: dict[str, Any], *others: CostResource, region: str = "us-central1") -> CostLine:
    target = CostResource(f"urn:pulumi:t::p::{type_}::x", type_, "x", inputs)
    return estimate_stack([target, *others], region).lines[0]


def storage_class(name: str, provisioner: str, **parameters: str) -> CostResource:
    t = "kubernetes:storage.k8s.io/v1:StorageClass"
    return CostResource(f"urn:pulumi:t::p::{t}::{name}", t, name,
                        {"metadata": {"name": name}, "provisioner": provisioner, "parameters": parameters})


def pool(**kw: Any) -> dict[str, Any]:
    return {"nodeConfig": {"machineType": "e2-standard-4", "diskSizeGb": 100}, "nodeCount": 1, **kw}


def test_a_regional_pool_without_node_locations_runs_in_three_zones() -> None:
    """Finding 8: the GKE system pool was priced for one zone but GKE runs it in three."""
    regional = line(POOL, pool(location="us-central1"))
    zonal = line(POOL, pool(location="us-central1-a"))
    pinned = line(POOL, pool(location="us-central1", nodeLocations=["us-central1-a"]))
    assert regional.monthly_usd == pytest.approx(3 * zonal.monthly_usd)
    assert pinned.monthly_usd == pytest.approx(zonal.monthly_usd)


@pytest.mark.parametrize("kind, status", [("LoadBalancer", Status.PRICED), ("[unknown]", Status.UNPRICED)])
def test_a_service_that_creates_a_cloud_load_balancer_is_not_free(kind: str, status: Status) -> None:
    """Finding 19e: every kubernetes: type was free, so a LoadBalancer Service cost $0. It is priced as its load
    balancer now (tests/aiinfra/costs/test_load_balancers.py); an unknown type is unpriced."""
    got = line(SVC, {"spec": {"type": kind}})
    assert got.status is status and (got.monthly_usd > 0 or status is Status.UNPRICED)
    assert line(SVC, {"spec": {"type": "ClusterIP"}}).status is Status.FREE
    assert line(SVC, {"spec": {}}).status is Status.FREE


def test_claims_are_priced_as_the_volume_they_provision() -> None:
    claim = {"spec": {"storageClassName": "ebs-gp3", "resources": {"requests": {"storage": "500Gi"}}}}
    ebs = line(PVC, claim, storage_class("ebs-gp3", "ebs.csi.aws.com", type="gp3"), region="us-east-1")
    assert ebs.status is Status.PRICED and ebs.monthly_usd == pytest.approx(500 * 0.08)
    pd = line(PVC, {"spec": {"storageClassName": "premium-rwo", "resources": {"requests": {"storage": "100Gi"}}}})
    assert pd.status is Status.PRICED and "persistent disk pd-ssd" in pd.basis
    efs = line(PVC, {"spec": {"storageClassName": "efs-sc", "resources": {"requests": {"storage": "100Gi"}}}},
               storage_class("efs-sc", "efs.csi.aws.com"), region="us-east-1")
    assert efs.status is Status.FREE
    bound = line(PVC, {"spec": {"storageClassName": "", "volumeName": "pv-1",
                                "resources": {"requests": {"storage": "1Ti"}}}})
    assert bound.status is Status.FREE
    for cls in (None, "mystery"):
        unknown = line(PVC, {"spec": {"storageClassName": cls, "resources": {"requests": {"storage": "1Gi"}}}})
        assert unknown.status is Status.UNPRICED, cls


def test_expected_never_exceeds_the_worst_case_for_long_jobs() -> None:
    """Finding 19a: 4 runs x 720 h of a 4-node job gave an expected figure above the worst case."""
    job = {"spec": {"activeDeadlineSeconds": 720 * 3600, "parallelism": 4,
                    "template": {"spec": {"nodeSelector": {"node.kubernetes.io/instance-type": "p5.48xlarge"}}}}}
    got = line("kubernetes:batch/v1:Job", job, region="us-east-1")
    assert got.status is Status.PRICED
    assert got.monthly_usd <= got.worst_monthly_usd + 1e-6
    assert got.monthly_usd == pytest.approx(4 * 730 * got.per_run_usd / (4 * 720) if got.per_run_usd else 0, rel=1e-3)


def test_a_stacks_expected_cost_never_exceeds_its_worst_case(plan_stack: Any) -> None:
    """Finding 19a as the review ran it: prod job 4 nodes x 720 h on a pool kept at 0 nodes."""
    from aiinfra.policyhost.gate import price_plan

    plan = plan_stack("prod", ["kubernetes.gpuPools[0].desiredSize=0", "workloads.trainingJobs[0].nodes=4",
                               "workloads.trainingJobs[0].maxRunHours=720"])
    cost = price_plan(plan)
    assert cost.expected_monthly_usd <= cost.worst_case_monthly_usd


@pytest.mark.parametrize(("type_", "region", "key"), [
    ("aws:ecr/repository:Repository", "us-east-1", "ECR image storage"),
    ("gcp:artifactregistry/repository:Repository", "us-central1", "Artifact Registry storage"),
])
def test_registry_repositories_are_priced_from_the_registry_usage_figure(type_: str, region: str, key: str) -> None:
    """Finding 18: `images.registry: true` made every stack unpriced (ECR / Artifact Registry not in the table)."""
    from aiinfra.catalog.usage import Usage

    repos = [CostResource(f"urn:pulumi:t::p::{type_}::r{i}", type_, f"r{i}", {}) for i in range(2)]
    lines = estimate_stack(repos, region, Usage(registry_gb=300)).lines
    assert [x.status for x in lines] == [Status.PRICED, Status.PRICED]
    assert lines[0].basis == f"150 GB-month {key} x $0.1"
    assert sum(x.monthly_usd for x in lines) == pytest.approx(30.0)


def test_a_stack_with_its_own_registry_and_image_builds_is_priced(plan_stack: Any) -> None:
    from aiinfra.policyhost.gate import price_plan

    cost = price_plan(plan_stack("dev", ['images={"registry": true, "build": true}']))
    assert cost.unpriced == []
    assert any(line.type == "aws:ecr/repository:Repository" and line.monthly_usd > 0 for line in cost.lines)

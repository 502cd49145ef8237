"""The estimator: every type priced or explicitly free, unknowns fail closed, bases a person can check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aiinfra.costs import UNKNOWN, CostResource, Status, Usage, estimate_stack
from aiinfra.costs.estimate import FREE_TYPES, PRICED_TYPES, Context, estimate_resource
from aiinfra.offline import Plan

P = "urn:pulumi:t::ai-infra::ai-infra:index:AwsGpuGroup::g"


def res(type_: str, inputs: dict[str, Any], name: str = "r", parent: str | None = P) -> CostResource:
    return CostResource(f"urn:pulumi:t::ai-infra::{type_}::{name}", type_, name, inputs, parent)


def price(*resources: CostResource, region: str = "us-east-1", usage: Usage | None = None) -> dict[str, Any]:
    cost = estimate_stack(list(resources), region, usage)
    return {line.name: line for line in cost.lines}


ASG = "aws:autoscaling/group:Group"
LT = "aws:ec2/launchTemplate:LaunchTemplate"


def asg(**kw: Any) -> CostResource:
    inputs = {"minSize": 0, "desiredCapacity": 2, "maxSize": 4, "mixedInstancesPolicy": {
        "instancesDistribution": {"onDemandBaseCapacity": 0, "onDemandPercentageAboveBaseCapacity": 100},
        "launchTemplate": {"overrides": [{"instanceType": "p5.48xlarge"}]}}}
    inputs.update(kw)
    return res(ASG, inputs, "asg")


def test_on_demand_group_is_count_times_list_price_times_730_hours() -> None:
    line = price(asg())["asg"]
    assert line.monthly_usd == pytest.approx(2 * 55.04 * 730)
    assert line.worst_monthly_usd == pytest.approx(4 * 55.04 * 730)
    assert line.basis == "2 x p5.48xlarge on-demand x 730 h x $55.04"
    assert (line.accelerators, line.accelerator_name, line.spot) == (32, "h100", False)


def test_mixed_group_splits_on_demand_base_and_spot_share() -> None:
    mip = {"instancesDistribution": {"onDemandBaseCapacity": 1, "onDemandPercentageAboveBaseCapacity": 25},
           "launchTemplate": {"overrides": [{"instanceType": "g6e.12xlarge"}, {"instanceType": "g6e.24xlarge"}]}}
    line = price(asg(mixedInstancesPolicy=mip, desiredCapacity=3, maxSize=5))["asg"]
    # 3 = 1 base + ceil(2 x 25%) = 1 more on-demand, 1 spot (the spot price observed in us-east-1: the mean
    # of its four zones in skypilot-catalog's vms.csv @00148f2).
    assert line.basis == ("2 x g6e.12xlarge on-demand x 730 h x $10.49 + "
                          "1 x g6e.12xlarge spot x 730 h x $5.09")
    # Worst case: 5 = 1 + ceil(4 x 25%) = 2 on-demand, 3 spot, at the dearer alternative; spot priced
    # at on-demand (a spot price can rise to it, reclaimed capacity comes back on-demand).
    assert line.worst_monthly_usd == pytest.approx(730 * 5 * 15.06559)
    assert "3 x g6e.24xlarge spot at on-demand" in line.worst_basis


def test_schedule_hours_scale_the_expected_cost_not_the_worst_case() -> None:
    stop = res("aws:autoscaling/schedule:Schedule", {"recurrence": "0 20 * * MON-FRI", "desiredCapacity": 0}, "stop")
    start = res("aws:autoscaling/schedule:Schedule", {"recurrence": "0 8 * * MON-FRI", "desiredCapacity": 2}, "start")
    line = price(asg(), stop, start)["asg"]
    hours = 60 * 730 / 168
    assert line.monthly_usd == pytest.approx(2 * 55.04 * hours)
    assert line.worst_monthly_usd == pytest.approx(4 * 55.04 * 730)
    assert line.basis.endswith("(schedule: 60 h/week)")


def test_capacity_block_group_needs_the_negotiated_price() -> None:
    lt = res(LT, {"instanceType": "p5e.48xlarge", "instanceMarketOptions": {"marketType": "capacity-block"}}, "lt")
    group = res(ASG, {"minSize": 2, "desiredCapacity": 2, "maxSize": 2, "launchTemplate": {"id": "lt-1"}}, "asg")
    line = price(lt, group)["asg"]
    assert line.status is Status.UNPRICED
    assert "To fix: finance adds its contract price to aiinfra/catalog/data/negotiated_prices.json" in line.reason
    line = price(lt, group, usage=Usage(negotiated_prices={"p5e.48xlarge": 40.0}))["asg"]
    assert line.basis == "2 x p5e.48xlarge negotiated x 730 h x $40.00"


def test_unknown_cost_deciding_value_is_unpriced_not_zero() -> None:
    line = price(asg(maxSize=UNKNOWN))["asg"]
    assert (line.status, line.monthly_usd) == (Status.UNPRICED, 0.0)
    assert line.reason == "maxSize is unknown at preview and decides the cost"


def test_a_type_outside_both_tables_is_unpriced() -> None:
    line = price(res("aws:rds/instance:Instance", {"instanceClass": "db.r6g.large"}, "db"))["db"]
    assert line.status is Status.UNPRICED
    assert line.reason == "aws:rds/instance:Instance is not in the estimator's table (aiinfra/costs/estimate.py)"


def test_free_types_are_explicitly_free() -> None:
    line = price(res("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16"}, "vpc"))["vpc"]
    assert (line.status, line.monthly_usd, line.basis) == (Status.FREE, 0.0, "no charge")
    assert not FREE_TYPES & PRICED_TYPES


def test_launch_template_prices_root_volumes_of_the_group() -> None:
    lt = res(LT, {"blockDeviceMappings": [{"ebs": {"volumeSize": 500, "volumeType": "gp3", "iops": 3000,
                                                    "throughput": 250}}]}, "lt")
    line = price(lt, asg())["lt"]
    assert line.monthly_usd == pytest.approx(2 * (500 * 0.08 + 125 * 0.04))
    assert line.worst_monthly_usd == pytest.approx(4 * (500 * 0.08 + 125 * 0.04))


@pytest.mark.parametrize(("type_", "inputs", "monthly"), [
    ("aws:efs/fileSystem:FileSystem", {"throughputMode": "elastic"}, 500 * 0.30 + 1000 * 0.03 + 200 * 0.06),
    ("aws:efs/fileSystem:FileSystem", {"throughputMode": "bursting"}, 500 * 0.30),
    ("aws:efs/fileSystem:FileSystem", {"throughputMode": "provisioned", "provisionedThroughputInMibps": 100},
     500 * 0.30 + 100 * 6.0),
    ("aws:efs/backupPolicy:BackupPolicy", {"backupPolicy": {"status": "ENABLED"}}, 500 * 0.05),
    ("aws:fsx/lustreFileSystem:LustreFileSystem", {"storageCapacity": 4800, "deploymentType": "PERSISTENT_2",
                                                   "perUnitStorageThroughput": 500}, 4800 * 0.34),
    ("aws:fsx/lustreFileSystem:LustreFileSystem", {"storageCapacity": 1200, "deploymentType": "SCRATCH_2"},
     1200 * 0.14),
    ("aws:s3/bucket:Bucket", {}, 1000 * 0.023),
    ("aws:ec2/natGateway:NatGateway", {"subnetId": "s"}, 730 * 0.045 + 200 * 0.045 + 100 * 0.09),
    ("aws:ec2/eip:Eip", {"domain": "vpc"}, 730 * 0.005),
    ("aws:ec2/vpcEndpoint:VpcEndpoint", {"vpcEndpointType": "Gateway"}, 0.0),
    ("aws:ec2/vpcEndpoint:VpcEndpoint", {"vpcEndpointType": "Interface", "subnetIds": ["a", "b"]}, 2 * 730 * 0.01),
    ("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 30}, 20 * 0.50),
    ("aws:kms/key:Key", {}, 1.0),
    ("aws:eks/cluster:Cluster", {}, 730 * 0.10),
    ("aws:eks/nodeGroup:NodeGroup", {"scalingConfig": {"desiredSize": 2, "maxSize": 4, "minSize": 0},
                                     "instanceTypes": ["g6.xlarge"], "capacityType": "ON_DEMAND"}, 2 * 730 * 0.8048),
    ("gcp:storage/bucket:Bucket", {"storageClass": "STANDARD", "location": "US-CENTRAL1"}, 1000 * 0.020),
    ("gcp:filestore/instance:Instance", {"tier": "BASIC_SSD", "location": "us-central1-a",
                                         "fileShares": {"capacityGb": 2560, "name": "share"}}, 2560 * 0.30),
    ("gcp:compute/routerNat:RouterNat", {"router": "r"}, 730 * 0.044 + 200 * 0.045 + 100 * 0.12),
    ("gcp:compute/address:Address", {"addressType": "EXTERNAL"}, 730 * 0.005),
    ("gcp:compute/address:Address", {"addressType": "INTERNAL"}, 0.0),
    ("gcp:container/cluster:Cluster", {"location": "us-central1"}, 730 * 0.10),
    ("gcp:container/nodePool:NodePool", {"nodeConfig": {"machineType": "g2-standard-8", "diskSizeGb": 100,
                                                        "diskType": "pd-balanced"}, "nodeCount": 2},
     2 * (730 * 0.85362706 + 100 * 0.10)),
    ("gcp:tpu/v2Vm:V2Vm", {"zone": "us-east5-a", "acceleratorType": "v5p-8"}, 730 * 4 * 4.20),
    ("gcp:tpu/v2Vm:V2Vm", {"zone": "us-central1-a", "acceleratorConfig": {"type": "V5LITE_POD", "topology": "2x4"},
                           "schedulingConfig": {"spot": True}}, 730 * 8 * 0.24493),  # observed v5e spot, us-central1
    ("gcp:tpu/v2QueuedResource:V2QueuedResource", {"zone": "europe-west4-b", "tpu": {"nodeSpecs": [
        {"parent": "projects/p/locations/europe-west4-b", "node": {"acceleratorType": "v6e-16",
                                                                    "runtimeVersion": "v2-alpha-tpuv6e"}}]}},
     730 * 16 * 2.97),
])
def test_each_priced_type(type_: str, inputs: dict[str, Any], monthly: float) -> None:
    region = "us-central1" if type_.startswith("gcp:") else "us-east-1"
    line = price(res(type_, inputs, "x", parent=None), region=region)["x"]
    assert line.status is Status.PRICED, line.reason
    assert line.monthly_usd == pytest.approx(monthly, rel=1e-4)


def test_gcp_mig_with_autoscaler_prices_min_expected_and_max_worst() -> None:
    tpl = res("gcp:compute/instanceTemplate:InstanceTemplate", {
        "machineType": "n1-standard-8", "guestAccelerators": [{"type": "nvidia-tesla-t4", "count": 2}],
        "scheduling": {"provisioningModel": "SPOT"}, "disks": [{"diskSizeGb": 200, "diskType": "pd-balanced"}]}, "tpl")
    mig = res("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager", {"targetSize": 1}, "mig")
    auto = res("gcp:compute/regionAutoscaler:RegionAutoscaler",
               {"autoscalingPolicy": {"minReplicas": 1, "maxReplicas": 3}}, "as")
    lines = price(tpl, mig, auto, region="us-central1")
    hourly = 0.10446 + 2 * 0.175  # observed spot (skypilot-catalog gcp vms.csv), n1-standard-8 and T4 in us-central1
    assert lines["mig"].monthly_usd == pytest.approx(730 * hourly)
    on_demand = 0.379998 + 2 * 0.35  # worst case: the spot VMs at their on-demand price
    assert lines["mig"].worst_monthly_usd == pytest.approx(3 * 730 * on_demand)
    assert (lines["mig"].accelerators, lines["mig"].spot) == (6, True)
    assert lines["tpl"].monthly_usd == pytest.approx(200 * 0.10)
    assert lines["as"].status is Status.FREE


def test_training_job_costs_runs_times_nodes_times_price_times_deadline() -> None:
    job = res("kubernetes:batch/v1:Job", {"spec": {"parallelism": 2, "completions": 2, "activeDeadlineSeconds": 36000,
                                                    "template": {"spec": {"nodeSelector": {
                                                        "node.kubernetes.io/instance-type": "p5.48xlarge"}}}}}, "job")
    line = price(job, usage=Usage(training_runs_per_month=3))["job"]
    assert line.per_run_usd == pytest.approx(2 * 55.04 * 10)
    assert line.monthly_usd == pytest.approx(3 * 2 * 55.04 * 10)
    assert line.basis.startswith("3 runs/month x 2 x p5.48xlarge on-demand x 10 h max (activeDeadlineSeconds 36000)")


def test_aws_nat_traffic_is_split_across_gateways() -> None:
    nats = [res("aws:ec2/natGateway:NatGateway", {}, f"nat{i}", parent=None) for i in range(2)]
    lines = price(*nats)
    assert lines["nat0"].monthly_usd == pytest.approx(730 * 0.045 + 100 * 0.045 + 50 * 0.09)


def test_context_needs_no_siblings_for_standalone_pricing() -> None:
    line = estimate_resource(res("aws:ec2/eip:Eip", {}, "ip"), Context("eu-west-1", Usage()))
    assert line.monthly_usd == pytest.approx(730 * 0.005)


def test_every_stack_plans_with_every_resource_priced_or_free(plan_stack: Callable[..., Plan],
                                                              project_root: Any) -> None:
    from aiinfra.offline.project import stack_names

    for stack in stack_names(project_root):
        plan = plan_stack(stack)
        region = str(plan.config.get("aws:region") or plan.config.get("gcp:region"))
        cost = estimate_stack([CostResource(r.urn, r.type, r.name, r.inputs, r.parent) for r in plan.resources],
                              region)
        assert not cost.unpriced, [(line.type, line.reason) for line in cost.unpriced]
        assert cost.expected_monthly_usd > 0


def test_prod_stack_headline_figures(plan_stack: Callable[..., Plan]) -> None:
    plan = plan_stack("prod")
    cost = estimate_stack([CostResource(r.urn, r.type, r.name, r.inputs, r.parent) for r in plan.resources],
                          "us-east-1")
    drivers = cost.top_drivers(3)
    assert drivers[0].name == "ai-infra-prod-train-h100-asg"
    assert "ai-infra-prod-eval-h100-asg" in [d.name for d in drivers]
    assert drivers[0].monthly_usd == pytest.approx(4 * 55.04 * 730)
    assert cost.worst_case_monthly_usd > cost.expected_monthly_usd


def _pool_job(desired: int, max_size: int) -> tuple[CostResource, CostResource]:
    pool = res("aws:eks/nodeGroup:NodeGroup", {
        "instanceTypes": ["p5.48xlarge"], "labels": {"ai-infra/pool": "h100"},
        "scalingConfig": {"desiredSize": desired, "minSize": 0, "maxSize": max_size}}, "pool")
    job = res("kubernetes:batch/v1:Job", {"spec": {"parallelism": 2, "completions": 2, "activeDeadlineSeconds": 36000,
                                                    "template": {"spec": {"nodeSelector": {
                                                        "node.kubernetes.io/instance-type": "p5.48xlarge",
                                                        "ai-infra/pool": "h100"}}}}}, "job")
    return pool, job


def test_a_run_on_always_on_pool_nodes_is_not_counted_twice() -> None:
    lines = price(*_pool_job(desired=2, max_size=4), usage=Usage(training_runs_per_month=3))
    assert lines["pool"].monthly_usd == pytest.approx(2 * 730 * 55.04)
    assert lines["job"].monthly_usd == 0
    assert lines["job"].per_run_usd == pytest.approx(2 * 55.04 * 10)  # still what the run-cost cap checks
    assert "already priced on the pool's line" in lines["job"].basis


def test_a_run_that_scales_the_pool_up_costs_the_extra_nodes() -> None:
    lines = price(*_pool_job(desired=0, max_size=4), usage=Usage(training_runs_per_month=3))
    assert lines["job"].monthly_usd == pytest.approx(3 * 2 * 55.04 * 10)
    assert lines["job"].worst_monthly_usd == 0  # the pool's worst case already runs 4 nodes all month
    half = price(*_pool_job(desired=1, max_size=4), usage=Usage(training_runs_per_month=3))["job"]
    assert half.monthly_usd == pytest.approx(3 * 1 * 55.04 * 10)
    assert "1 of 2 nodes are beyond pool h100's 1 always-on nodes" in half.basis


def _pvc(storage_class: str, request: str) -> CostResource:
    return res("kubernetes:core/v1:PersistentVolumeClaim", {"spec": {
        "storageClassName": storage_class, "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": request}}}}, "pvc")


def test_a_filestore_csi_claim_is_priced_as_the_instance_it_provisions() -> None:
    line = price(_pvc("standard-rwx", "100Gi"), region="us-central1")["pvc"]
    # BASIC_HDD starts at 1 TiB: the tier minimum is what the claim costs.
    assert line.status is Status.PRICED
    assert line.monthly_usd == pytest.approx(1024 * 0.16)
    bigger = price(_pvc("premium-rwx", "3Ti"), region="us-central1")["pvc"]
    assert bigger.basis.startswith("3,072 GiB-month Filestore BASIC_SSD provisioned by storage class premium-rwx")


def test_claims_on_file_systems_priced_elsewhere_are_free() -> None:
    # The stack's own efs-sc class provisions access points on its EFS file system (priced on that line).
    efs_class = res("kubernetes:storage.k8s.io/v1:StorageClass",
                    {"metadata": {"name": "efs-sc"}, "provisioner": "efs.csi.aws.com"}, "efs-sc")
    assert price(_pvc("efs-sc", "1Ti"), efs_class)["pvc"].status is Status.FREE
    assert price(_pvc("", "100Gi"), region="us-central1")["pvc"].status is Status.FREE

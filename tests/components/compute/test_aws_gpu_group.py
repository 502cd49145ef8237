"""AwsGpuGroup under the mock engine: launch template hardening, EFA per tier, placement, purchase mix, schedules."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from aiinfra.catalog import aws_instance_type
from aiinfra.offline import Plan, PlannedResource
from components.compute.aws_gpu_group import ami_parameter, uses_placement_group
from components.spec import AmiFamily, GpuGroupSpec

LT = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
PG = "aws:ec2/placementGroup:PlacementGroup"


def group(**kw: Any) -> dict[str, Any]:
    base = {"name": "g1", "instanceType": "p5.48xlarge", "purchase": "on-demand", "minSize": 0,
            "desiredCapacity": 1, "maxSize": 4}
    base.update(kw)
    return base


def plan_group(plan_values: Callable[..., Plan], tier: str = "ultra", env: str = "dev", **kw: Any) -> Plan:
    return plan_values(network={"cidr": "10.0.0.0/16", "azCount": 2, "tier": tier}, gpuGroups=[group(**kw)],
                       environment=env)


def one(plan: Plan, token: str) -> PlannedResource:
    (res,) = plan.by_type(token)
    return res


def test_launch_template_requires_imdsv2_and_encrypts_the_root_volume(plan_values: Callable[..., Plan]) -> None:
    lt = one(plan_group(plan_values, tier="standard", instanceType="g6.xlarge", rootVolumeGib=321), LT).inputs
    assert lt["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required",
                                     "httpPutResponseHopLimit": 2, "instanceMetadataTags": "disabled"}
    (bdm,) = lt["blockDeviceMappings"]
    assert bdm["deviceName"] == "/dev/sda1"
    assert bdm["ebs"] == {"volumeSize": 321, "volumeType": "gp3", "encrypted": "true",
                          "deleteOnTermination": "true", "iops": 3000, "throughput": 250}
    (nic,) = lt["networkInterfaces"]
    # No associatePublicIpAddress (fidelity review row 13): the subnets assign no public IPs.
    assert "associatePublicIpAddress" not in nic and "interfaceType" not in nic


def test_ami_is_resolved_from_the_public_ssm_parameter(plan_values: Callable[..., Plan]) -> None:
    lt = one(plan_group(plan_values, tier="standard", instanceType="g6.xlarge"), LT).inputs
    assert lt["imageId"].startswith("ami-0")
    eks = GpuGroupSpec(name="g", instance_type="g6.xlarge", ami_family=AmiFamily.EKS, kubernetes_version="1.32")
    assert ami_parameter(eks) == ("/aws/service/eks/optimized-ami/1.32/amazon-linux-2023/x86_64/nvidia/"
                                  "recommended/image_id")


@pytest.mark.parametrize("itype", ["p5.48xlarge", "p4d.24xlarge", "p5en.48xlarge", "g6e.48xlarge"])
def test_ultra_declares_every_efa_interface_the_type_takes(plan_values: Callable[..., Plan], itype: str) -> None:
    lt = one(plan_group(plan_values, instanceType=itype), LT).inputs
    nics = lt["networkInterfaces"]
    expected = aws_instance_type(itype).efa_interfaces  # type: ignore[union-attr]
    assert len(nics) == expected
    assert [n["networkCardIndex"] for n in nics] == list(range(expected))
    assert [n["deviceIndex"] for n in nics] == [0] + [1] * (expected - 1)
    assert {n["interfaceType"] for n in nics} == {"efa"}
    assert all(len(n["securityGroups"]) == 2 for n in nics)  # node group + EFA self-referencing group


def test_enhanced_tier_packs_instances_without_efa(plan_values: Callable[..., Plan]) -> None:
    plan = plan_group(plan_values, tier="enhanced")
    assert len(one(plan, LT).inputs["networkInterfaces"]) == 1
    pg = one(plan, PG)
    assert pg.inputs["strategy"] == "cluster"
    assert one(plan, ASG).inputs["placementGroup"] == pg.id


def test_standard_tier_has_no_placement_group(plan_values: Callable[..., Plan]) -> None:
    plan = plan_group(plan_values, tier="standard", instanceType="g6.xlarge")
    assert not plan.by_type(PG)
    assert "placementGroup" not in one(plan, ASG).inputs


def test_capacity_block_gets_no_placement_group_and_targets_the_block(plan_values: Callable[..., Plan]) -> None:
    plan = plan_group(plan_values, instanceType="p5e.48xlarge", capacityBlock=True,
                      capacityReservationId="cr-0123456789abcdef0")
    assert not plan.by_type(PG)
    lt = one(plan, LT).inputs
    assert lt["instanceMarketOptions"] == {"marketType": "capacity-block"}
    assert lt["capacityReservationSpecification"] == {
        "capacityReservationTarget": {"capacityReservationId": "cr-0123456789abcdef0"}}
    assert lt["instanceType"] == "p5e.48xlarge"
    asg = one(plan, ASG).inputs
    assert "mixedInstancesPolicy" not in asg and asg["launchTemplate"]["id"] == one(plan, LT).id


def test_placement_rule_as_a_pure_function() -> None:
    reserved = GpuGroupSpec(name="g", instance_type="p5.48xlarge", capacity_reservation_id="cr-0123456789abcdef0")
    assert uses_placement_group(GpuGroupSpec(name="g", instance_type="p5.48xlarge"), True)
    assert not uses_placement_group(reserved, True)
    assert not uses_placement_group(GpuGroupSpec(name="g", instance_type="p5.48xlarge"), False)


def test_mixed_instances_policy_follows_the_purchase_mix(plan_values: Callable[..., Plan]) -> None:
    plan = plan_group(plan_values, tier="standard", instanceType="g6.xlarge", extraInstanceTypes=["g6.2xlarge"],
                      purchase="mixed", onDemandBaseCapacity=1, onDemandPercentageAboveBase=20)
    mip = one(plan, ASG).inputs["mixedInstancesPolicy"]
    assert mip["instancesDistribution"] == {
        "onDemandBaseCapacity": 1, "onDemandPercentageAboveBaseCapacity": 20,
        "onDemandAllocationStrategy": "prioritized", "spotAllocationStrategy": "price-capacity-optimized"}
    assert [o["instanceType"] for o in mip["launchTemplate"]["overrides"]] == ["g6.xlarge", "g6.2xlarge"]
    assert one(plan, ASG).inputs["capacityRebalance"] is True


def test_sizes_come_from_config(plan_values: Callable[..., Plan]) -> None:
    asg = one(plan_group(plan_values, minSize=2, desiredCapacity=3, maxSize=9), ASG).inputs
    assert (asg["minSize"], asg["desiredCapacity"], asg["maxSize"]) == (2, 3, 9)


def test_non_prod_schedule_scales_to_zero_outside_working_hours(plan_values: Callable[..., Plan]) -> None:
    plan = plan_group(plan_values, tier="standard", instanceType="g6.xlarge", minSize=1, desiredCapacity=2,
                      schedule={"start": "07:30", "stop": "19:00", "days": "MON-FRI", "timezone": "Europe/Berlin"})
    schedules = {r.name.rsplit("-", 1)[-1]: r.inputs for r in plan.by_type("aws:autoscaling/schedule:Schedule")}
    assert schedules["stop"]["recurrence"] == "0 19 * * MON-FRI"
    assert (schedules["stop"]["minSize"], schedules["stop"]["desiredCapacity"]) == (0, 0)
    assert schedules["start"]["recurrence"] == "30 7 * * MON-FRI"
    assert (schedules["start"]["minSize"], schedules["start"]["desiredCapacity"]) == (1, 2)
    assert schedules["stop"]["timeZone"] == "Europe/Berlin"


def test_instance_profile_is_least_privilege(plan_values: Callable[..., Plan]) -> None:
    plan = plan_group(plan_values, tier="standard", instanceType="g6.xlarge")
    attachments = [r.inputs["policyArn"] for r in plan.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
    assert attachments == ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]
    bucket_arn = one(plan, "aws:s3/bucket:Bucket").outputs["arn"]
    policy = json.loads(one(plan, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    actions = sorted(a for s in policy["Statement"] for a in s["Action"])
    assert actions == ["s3:GetBucketLocation", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"]
    assert {s["Resource"] for s in policy["Statement"]} == {bucket_arn, f"{bucket_arn}/*"}


def test_user_data_mounts_the_shared_file_systems(plan_values: Callable[..., Plan]) -> None:
    plan = plan_values(network={"cidr": "10.0.0.0/16", "azCount": 2, "tier": "ultra"}, gpuGroups=[group()],
                       storage={"fsxLustre": {"enabled": True}})
    script = base64.b64decode(one(plan, LT).inputs["userData"]).decode()
    efs = one(plan, "aws:efs/fileSystem:FileSystem").outputs["dnsName"]
    lustre = one(plan, "aws:fsx/lustreFileSystem:LustreFileSystem").outputs
    assert f"{efs}:/ /mnt/shared nfs4" in script
    assert f"{lustre['dnsName']}@tcp:/{lustre['mountName']} /mnt/lustre lustre" in script
    assert script.rstrip().endswith("mount -a")

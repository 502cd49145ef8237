"""AwsNetwork under the mock engine: the tier decides NATs, endpoints, EFA group and GPU subnet."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from aiinfra.offline import Plan

NAT = "aws:ec2/natGateway:NatGateway"
SUBNET = "aws:ec2/subnet:Subnet"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG = "aws:ec2/securityGroup:SecurityGroup"


def _plan(plan_values: Callable[..., Plan], tier: str, az_count: int = 3, instance: str = "p5.48xlarge") -> Plan:
    return plan_values(
        network={"cidr": "10.0.0.0/16", "azCount": az_count, "tier": tier},
        gpuGroups=[{"name": "g1", "instanceType": instance, "purchase": "on-demand", "minSize": 0,
                    "desiredCapacity": 1, "maxSize": 2}],
    )


@pytest.mark.parametrize(("tier", "nats", "endpoints"), [("standard", 1, 0), ("enhanced", 3, 1), ("ultra", 3, 1)])
def test_tier_decides_nat_layout_and_s3_endpoint(plan_values: Callable[..., Plan], tier: str, nats: int,
                                                 endpoints: int) -> None:
    plan = _plan(plan_values, tier)
    assert len(plan.by_type(NAT)) == nats
    eps = plan.by_type(ENDPOINT)
    assert len(eps) == endpoints
    if eps:
        assert eps[0].inputs["vpcEndpointType"] == "Gateway"
        assert eps[0].inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
        assert len(eps[0].inputs["routeTableIds"]) == 3


def test_single_nat_serves_every_private_route_table_on_standard(plan_values: Callable[..., Plan]) -> None:
    plan = _plan(plan_values, "standard")
    nat_id = plan.by_type(NAT)[0].id
    private = [r for r in plan.by_type("aws:ec2/routeTable:RouteTable") if "private" in r.name]
    assert len(private) == 3
    assert {r.inputs["routes"][0]["natGatewayId"] for r in private} == {nat_id}


def test_subnets_span_the_azs_and_public_ones_assign_no_public_ips(plan_values: Callable[..., Plan]) -> None:
    plan = _plan(plan_values, "standard")
    subnets = {r.name: r.inputs for r in plan.by_type(SUBNET)}
    assert {n for n in subnets if "private" in n} == {"ai-infra-test-private-0", "ai-infra-test-private-1",
                                                      "ai-infra-test-private-2"}
    azs = {s["availabilityZone"] for n, s in subnets.items() if "private" in n}
    assert azs == {"us-east-1a", "us-east-1b", "us-east-1c"}
    assert all(s.get("mapPublicIpOnLaunch", False) is False for s in subnets.values())


def test_ultra_adds_a_single_az_gpu_subnet_and_self_referencing_efa_group(plan_values: Callable[..., Plan]) -> None:
    plan = _plan(plan_values, "ultra")
    gpu = [r for r in plan.by_type(SUBNET) if r.name.endswith("-gpu")]
    assert len(gpu) == 1 and gpu[0].inputs["cidrBlock"] == "10.0.128.0/19"
    assert gpu[0].inputs["availabilityZone"] == "us-east-1a"
    efa_sg = next(r for r in plan.by_type(SG) if r.name.endswith("-efa"))
    rule = next(r for r in plan.by_type(INGRESS) if r.name.endswith("-efa-in"))
    assert rule.inputs["referencedSecurityGroupId"] == efa_sg.id
    assert rule.inputs["ipProtocol"] == "-1"
    asg = plan.by_type("aws:autoscaling/group:Group")[0]
    assert asg.inputs["vpcZoneIdentifiers"] == [gpu[0].id]


def test_standard_has_no_gpu_subnet_and_no_efa_group(plan_values: Callable[..., Plan]) -> None:
    plan = _plan(plan_values, "standard", instance="g6.xlarge")
    assert not [r for r in plan.by_type(SUBNET) if r.name.endswith("-gpu")]
    assert not [r for r in plan.by_type(SG) if r.name.endswith("-efa")]


def test_no_ingress_from_the_internet(plan_values: Callable[..., Plan]) -> None:
    plan = _plan(plan_values, "ultra")
    for rule in plan.by_type(INGRESS):
        assert rule.inputs.get("cidrIpv4") != "0.0.0.0/0", rule.name
    default_sg = plan.by_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")[0]
    assert not default_sg.inputs.get("ingress") and not default_sg.inputs.get("egress")


def test_only_public_route_table_routes_to_the_internet_gateway(plan_values: Callable[..., Plan]) -> None:
    plan = _plan(plan_values, "enhanced")
    igw = plan.by_type("aws:ec2/internetGateway:InternetGateway")[0].id
    to_igw = [r.name for r in plan.by_type("aws:ec2/routeTable:RouteTable")
              if any(route.get("gatewayId") == igw for route in r.inputs.get("routes", []))]
    assert to_igw == ["ai-infra-test-public-rt"]


def test_flow_logs_are_optional(plan_values: Callable[..., Plan], base_aws: dict) -> None:
    off = plan_values()
    assert not off.by_type("aws:ec2/flowLog:FlowLog")
    on = plan_values(network={**base_aws["ai-infra:network"], "flowLogs": True})
    log = on.by_type("aws:ec2/flowLog:FlowLog")[0]
    assert log.inputs["trafficType"] == "ALL" and log.inputs["logDestinationType"] == "cloud-watch-logs"

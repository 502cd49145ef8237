"""GCP network: range carving (pure), tier mapping, and the planned VPC, NAT and internal-only firewall."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest

from aiinfra.offline import Plan
from components.network.gcp import PODS_RANGE, SERVICES_RANGE, carve_gcp_ranges
from components.network.tiers import TIERS, Tier


def test_ranges_for_a_slash_16() -> None:
    r = carve_gcp_ranges("10.0.0.0/16")
    assert (r.nodes, r.services, r.filestore, r.pods) == (
        "10.0.0.0/18", "10.0.64.0/20", "10.0.80.0/26", "10.0.128.0/17")


@pytest.mark.parametrize("cidr", ["10.0.0.0/16", "172.16.0.0/18", "192.168.0.0/20", "10.200.16.0/20"])
def test_ranges_are_disjoint_and_inside_the_vpc(cidr: str) -> None:
    r = carve_gcp_ranges(cidr)
    vpc = ipaddress.IPv4Network(cidr)
    nets = [ipaddress.IPv4Network(x) for x in (r.nodes, r.services, r.filestore, r.pods)]
    assert all(n.subnet_of(vpc) for n in nets)
    for i, a in enumerate(nets):
        for b in nets[i + 1:]:
            assert not a.overlaps(b), (a, b)


def test_tier_mapping_on_gcp() -> None:
    std, enh, ultra = (TIERS[t].gcp for t in (Tier.STANDARD, Tier.ENHANCED, Tier.ULTRA))
    assert (std.gvnic, std.compact_placement, std.tier1_networking, std.mtu) == (False, False, False, 1460)
    assert (enh.gvnic, enh.compact_placement, enh.tier1_networking, enh.mtu) == (True, True, False, 1460)
    assert (ultra.gvnic, ultra.compact_placement, ultra.tier1_networking, ultra.mtu) == (True, True, True, 8896)


def one(plan: Plan, token: str) -> dict[str, Any]:
    (res,) = plan.by_type(token)
    return res.inputs


def test_custom_mode_vpc_with_private_google_access_and_gke_ranges(
        plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> None:
    plan = plan_values(base_gcp, base=False)
    vpc = one(plan, "gcp:compute/network:Network")
    assert vpc["autoCreateSubnetworks"] is False
    assert vpc["mtu"] == 1460
    subnet = one(plan, "gcp:compute/subnetwork:Subnetwork")
    assert subnet["privateIpGoogleAccess"] is True
    assert subnet["ipCidrRange"] == "10.0.0.0/18"
    assert subnet["region"] == "us-central1"
    assert {r["rangeName"]: r["ipCidrRange"] for r in subnet["secondaryIpRanges"]} == {
        PODS_RANGE: "10.0.128.0/17", SERVICES_RANGE: "10.0.64.0/20"}
    nat = one(plan, "gcp:compute/routerNat:RouterNat")
    assert nat["natIpAllocateOption"] == "AUTO_ONLY"
    assert nat["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    # GKE consumers read these from the stack exports.
    assert plan.exports["podsRangeName"] == "pods" and plan.exports["servicesRangeName"] == "services"
    assert plan.exports["networkSelfLink"].endswith("/global/networks/" + plan.exports["networkId"].split("/")[-1])
    assert "/regions/us-central1/subnetworks/" in plan.exports["subnetSelfLink"]


def test_ultra_tier_uses_jumbo_frames(plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> None:
    base_gcp["ai-infra:network"] = {"cidr": "10.0.0.0/16", "tier": "ultra"}
    base_gcp["ai-infra:gpuGroups"][0]["zone"] = "us-central1-a"
    plan = plan_values(base_gcp, base=False)
    assert one(plan, "gcp:compute/network:Network")["mtu"] == 8896


def test_firewall_admits_only_internal_and_iap_sources(
        plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> None:
    base_gcp["ai-infra:network"] = {"cidr": "10.0.0.0/16", "peeredCidrs": ["10.100.0.0/16"], "flowLogs": True}
    plan = plan_values(base_gcp, base=False)
    rules = {r.name.removeprefix("ai-infra-test-"): r.inputs for r in plan.by_type("gcp:compute/firewall:Firewall")}
    assert set(rules) == {"internal", "iap-ssh", "deny-ingress"}
    for rule in rules.values():
        assert rule["direction"] == "INGRESS"
        if "allows" in rule:
            assert "0.0.0.0/0" not in rule["sourceRanges"]
    assert rules["internal"]["sourceRanges"] == ["10.0.0.0/16", "10.100.0.0/16"]
    assert rules["iap-ssh"]["sourceRanges"] == ["35.235.240.0/20"]
    assert rules["deny-ingress"]["denies"] == [{"protocol": "all"}] and rules["deny-ingress"]["priority"] == 65534
    assert one(plan, "gcp:compute/subnetwork:Subnetwork")["logConfig"]["flowSampling"] == 0.5

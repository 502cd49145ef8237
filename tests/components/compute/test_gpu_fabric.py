"""GPU fabric on GCP (issue 16 item 8, review row 11): an a3-highgpu-8g group on `ultra` gets one host
gVNIC plus four GPU gVNICs, each on its own MTU-8244 VPC network (GPUDirect-TCPX), checked by the
cloud rule `rules.gcp.gpu_nic_layout` from the catalog fact `aiinfra.catalog.gpu_fabric`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiinfra.catalog.gcp import gcp_machine_type
from aiinfra.catalog.gpu_fabric import gpu_fabric
from aiinfra.catalog.rules.gcp import gpu_nic_layout
from aiinfra.offline import Plan

TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
NETWORK = "gcp:compute/network:Network"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
FIREWALL = "gcp:compute/firewall:Firewall"


def test_catalog_fact_a3_high_has_four_gpu_nics() -> None:
    fabric = gpu_fabric("a3-highgpu-8g")
    assert fabric is not None
    assert (fabric.technology, fabric.gpu_nics, fabric.mtu, fabric.nic_type) == ("GPUDirect-TCPX", 4, 8244, "GVNIC")
    assert fabric.source.startswith("https://cloud.google.com/") and fabric.as_of
    assert gpu_fabric("g2-standard-8") is None
    # The bandwidth the catalog states for A3 High is the one the fabric delivers.
    assert gcp_machine_type("a3-highgpu-8g").network_gbps == 1000  # type: ignore[union-attr]


def test_rule_refuses_a3_high_with_only_the_host_nic() -> None:
    problem = gpu_nic_layout("a3-highgpu-8g", ["GVNIC"], [])
    assert problem == ("a3-highgpu-8g needs 5 network interfaces (1 host + 4 GPU NICs for GPUDirect-TCPX), not 1")


def test_rule_refuses_virtio_and_a_wrong_mtu_and_accepts_googles_layout() -> None:
    assert "must be GVNIC" in str(gpu_nic_layout("a3-highgpu-8g", ["GVNIC"] * 4 + ["VIRTIO_NET"], [8244] * 4))
    assert "MTU 8244" in str(gpu_nic_layout("a3-highgpu-8g", ["GVNIC"] * 5, [8244, 8244, 8244, 1460]))
    assert gpu_nic_layout("a3-highgpu-8g", ["GVNIC"] * 5, [8244] * 4) is None
    assert gpu_nic_layout("g2-standard-8", ["VIRTIO_NET"], []) is None  # no GPU NICs: nothing to check


def _a3(base_gcp: dict[str, Any], tier: str) -> dict[str, Any]:
    base_gcp["ai-infra:network"] = {"cidr": "10.0.0.0/16", "tier": tier}
    base_gcp["ai-infra:gpuGroups"] = [{"name": "h100", "machineType": "a3-highgpu-8g", "zone": "us-central1-a",
                                       "targetSize": 2}]
    base_gcp["ai-infra:tpuPods"] = []
    return base_gcp


def test_ultra_a3_template_has_a_gvnic_per_gpu_nic_on_its_own_network(
        plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> None:
    plan = plan_values(_a3(base_gcp, "ultra"), base=False)
    (t,) = plan.by_type(TEMPLATE)
    nics = t.inputs["networkInterfaces"]
    assert len(nics) == 5 and all(n["nicType"] == "GVNIC" for n in nics)
    fabric_nets = [n for n in plan.by_type(NETWORK) if "-fabric-gpunic" in n.name]
    assert sorted(n.inputs["mtu"] for n in fabric_nets) == [8244] * 4
    assert all(n.inputs["autoCreateSubnetworks"] is False for n in fabric_nets)
    # nic1..nic4 each on a different network, and on that network's subnet.
    subnets = {s.id: s for s in plan.by_type(SUBNET) if "-fabric-gpunic" in s.name}
    assert len({n["network"] for n in nics[1:]}) == 4
    for nic in nics[1:]:
        assert subnets[nic["subnetwork"]].inputs["network"] == nic["network"]
    assert sorted(s.inputs["ipCidrRange"] for s in subnets.values()) == [
        "192.168.1.0/24", "192.168.2.0/24", "192.168.3.0/24", "192.168.4.0/24"]
    walls = [f for f in plan.by_type(FIREWALL) if "-fabric-gpunic" in f.name]
    assert len(walls) == 4 and all(f.inputs["sourceRanges"] == sorted(
        s.inputs["ipCidrRange"] for s in subnets.values()) for f in walls)
    assert not any(n.get("accessConfigs") for n in nics)  # no external IPs on any NIC


def test_below_ultra_a3_keeps_one_nic_and_no_fabric_networks(
        plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> None:
    plan = plan_values(_a3(base_gcp, "enhanced"), base=False)
    (t,) = plan.by_type(TEMPLATE)
    assert len(t.inputs["networkInterfaces"]) == 1
    assert not [n for n in plan.by_type(NETWORK) if "-fabric-" in n.name]


def test_gcp_prod_h100_groups_get_the_fabric(plan_stack: Any) -> None:
    plan = plan_stack("gcp-prod")
    a3 = [t for t in plan.by_type(TEMPLATE) if t.inputs["machineType"] == "a3-highgpu-8g"]
    assert a3 and all(len(t.inputs["networkInterfaces"]) == 5 for t in a3)


# A3 Mega (a3-megagpu-8g): GPUDirect-TCPXO, one host NIC plus eight GPU NICs on eight MTU-8244 networks
# (Cluster Toolkit's A3 Mega blueprint: multivpc network_count 8, mtu 8244; NCCL_FASTRAK_IFNAME lists 8 devices).


def test_catalog_fact_a3_mega_has_eight_gpu_nics() -> None:
    fabric = gpu_fabric("a3-megagpu-8g")
    assert fabric is not None
    assert (fabric.technology, fabric.gpu_nics, fabric.mtu, fabric.nic_type) == ("GPUDirect-TCPXO", 8, 8244, "GVNIC")
    assert fabric.source.startswith("https://cloud.google.com/") and fabric.as_of
    # Google's table: A3 Mega 1,800 Gbps in all (8 GPU NICs x 200 + the 200 Gbps host NIC).
    assert gcp_machine_type("a3-megagpu-8g").network_gbps == 1800  # type: ignore[union-attr]


def test_rule_refuses_a3_mega_with_the_a3_high_layout_or_the_host_nic_only() -> None:
    assert gpu_nic_layout("a3-megagpu-8g", ["GVNIC"] * 5, [8244] * 4) == (
        "a3-megagpu-8g needs 9 network interfaces (1 host + 8 GPU NICs for GPUDirect-TCPXO), not 5")
    assert "not 1" in str(gpu_nic_layout("a3-megagpu-8g", ["GVNIC"], []))
    assert "MTU 8244" in str(gpu_nic_layout("a3-megagpu-8g", ["GVNIC"] * 9, [8244] * 7 + [8896]))
    assert "must be GVNIC" in str(gpu_nic_layout("a3-megagpu-8g", ["GVNIC"] * 8 + ["VIRTIO_NET"], [8244] * 8))
    assert gpu_nic_layout("a3-megagpu-8g", ["GVNIC"] * 9, [8244] * 8) is None


def _a3_mega(base_gcp: dict[str, Any], tier: str) -> dict[str, Any]:
    base = _a3(base_gcp, tier)
    base["ai-infra:gpuGroups"][0].update(name="mega", machineType="a3-megagpu-8g")
    return base


def test_ultra_a3_mega_template_has_eight_gpu_nics_on_eight_networks(
        plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> None:
    plan = plan_values(_a3_mega(base_gcp, "ultra"), base=False)
    (t,) = plan.by_type(TEMPLATE)
    assert t.inputs["machineType"] == "a3-megagpu-8g"
    nics = t.inputs["networkInterfaces"]
    assert len(nics) == 9 and all(n["nicType"] == "GVNIC" for n in nics)
    fabric_nets = [n for n in plan.by_type(NETWORK) if "-fabric-gpunic" in n.name]
    assert sorted(n.inputs["mtu"] for n in fabric_nets) == [8244] * 8
    assert all(n.inputs["autoCreateSubnetworks"] is False for n in fabric_nets)
    assert all("GPUDirect-TCPXO" in n.inputs["description"] for n in fabric_nets)
    subnets = {s.id: s for s in plan.by_type(SUBNET) if "-fabric-gpunic" in s.name}
    assert len(subnets) == 8 and len({n["network"] for n in nics[1:]}) == 8
    for nic in nics[1:]:
        assert subnets[nic["subnetwork"]].inputs["network"] == nic["network"]
    ranges = sorted(s.inputs["ipCidrRange"] for s in subnets.values())
    assert ranges == [f"192.168.{i}.0/24" for i in range(1, 9)]
    walls = [f for f in plan.by_type(FIREWALL) if "-fabric-gpunic" in f.name]
    assert len(walls) == 8
    assert {f.inputs["network"] for f in walls} == {n["network"] for n in nics[1:]}
    for f in walls:
        assert f.inputs["direction"] == "INGRESS" and f.inputs["sourceRanges"] == ranges
        assert sorted(a["protocol"] for a in f.inputs["allows"]) == ["icmp", "tcp", "udp"]
    assert not any(n.get("accessConfigs") for n in nics)


def test_below_ultra_a3_mega_keeps_the_host_nic_only(
        plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> None:
    plan = plan_values(_a3_mega(base_gcp, "enhanced"), base=False)
    (t,) = plan.by_type(TEMPLATE)
    assert t.inputs["machineType"] == "a3-megagpu-8g"
    assert len(t.inputs["networkInterfaces"]) == 1
    assert not [n for n in plan.by_type(NETWORK) if "-fabric-" in n.name]
    assert not [f for f in plan.by_type(FIREWALL) if "-fabric-" in f.name]

"""The GPU NIC networks of a GCP GPU group: one VPC network and subnet per GPU NIC, for GPUDirect-TCPX(O).

A3 High has one host NIC and four GPU NICs (GPUDirect-TCPX), A3 Mega one host NIC and eight GPU NICs
(GPUDirect-TCPXO); Google's setup gives each NIC its own VPC network with
MTU 8244 and a firewall rule letting the group's VMs reach each other on it (TCP, UDP, ICMP from the
subnets' ranges). The NIC count and MTU are the catalog fact `aiinfra.catalog.gpu_fabric`; the layout
is checked by the cloud rule `rules.gcp.gpu_nic_layout`. The networks have no routes to the internet
(no NAT, no external IPs): they carry only GPU-to-GPU traffic.

One set per GPU group: groups on separate networks never share a collective. Each network counts
against the project's VPC network quota (15 by default): an A3 High group takes 4 of them, an A3 Mega
group 8, so with the stack's own VPC a second A3 Mega group (1 + 8 + 8 = 17) needs a quota increase.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from aiinfra.catalog.gpu_fabric import GpuFabric

GPU_NIC_RANGE = "192.168.{i}.0/24"
"""Subnet range of GPU NIC i (networks are separate, so the ranges only need to differ from each other)."""


@dataclass(frozen=True)
class GpuNicNetwork:
    network: pulumi.Output[str]
    subnetwork: pulumi.Output[str]
    mtu: int


class GpuFabricNetworks(pulumi.ComponentResource):
    nics: list[GpuNicNetwork]
    """One per GPU NIC, in NIC order (nic1..nicN of the instance template)."""

    def __init__(self, name: str, fabric: GpuFabric, region: str, project: str,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:GpuFabricNetworks", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ranges = [GPU_NIC_RANGE.format(i=i + 1) for i in range(fabric.gpu_nics)]
        self.nics = []
        for i, cidr in enumerate(ranges, start=1):
            net = gcp.compute.Network(f"{name}-gpunic{i}", project=project, auto_create_subnetworks=False,
                                      mtu=fabric.mtu, routing_mode="REGIONAL",
                                      description=f"{fabric.technology} GPU NIC {i}", opts=child)
            sub = gcp.compute.Subnetwork(f"{name}-gpunic{i}", project=project, region=region, network=net.id,
                                         ip_cidr_range=cidr, private_ip_google_access=False, opts=child)
            gcp.compute.Firewall(f"{name}-gpunic{i}-internal", project=project, network=net.id, direction="INGRESS",
                                 source_ranges=ranges,
                                 priority=1000,
                                 allows=[{"protocol": "tcp"}, {"protocol": "udp"}, {"protocol": "icmp"}],
                                 description=f"{fabric.technology}: GPU-to-GPU traffic between the group's VMs",
                                 opts=child)
            self.nics.append(GpuNicNetwork(network=net.id, subnetwork=sub.id, mtu=fabric.mtu))
        self.register_outputs({"networks": [n.network for n in self.nics]})

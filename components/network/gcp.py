"""GCP network: custom-mode VPC, one regional subnet with GKE pod/service ranges, Cloud Router + NAT,
Private Google Access, internal-only firewall; MTU and gVNIC from the tier table.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.network.tiers import Tier, tier_row

PODS_RANGE = "pods"
SERVICES_RANGE = "services"
# Google's health checkers and IAP TCP forwarding (SSH without public IPs) come from these.
_IAP_RANGE = "35.235.240.0/20"


@dataclass(frozen=True)
class GcpRanges:
    """How one VPC range is split on GCP (pure; see `carve_gcp_ranges`)."""

    nodes: str
    """Primary range of the subnet: VMs, TPU VMs, GKE nodes."""
    services: str
    """Secondary range for GKE Services."""
    filestore: str
    """Kept free of subnets: Filestore takes its /26 (or /29) from here."""
    pods: str
    """Secondary range for GKE Pods (the largest: one /24 per node by default)."""


def carve_gcp_ranges(vpc_cidr: str, filestore_prefix: int = 26) -> GcpRanges:
    """Split the VPC: nodes take the first quarter, services the first sixteenth of the second
    quarter, Filestore a block right after it, pods the second half.

    For 10.0.0.0/16: nodes 10.0.0.0/18, services 10.0.64.0/20, Filestore 10.0.80.0/26,
    pods 10.0.128.0/17.
    """
    vpc = ipaddress.IPv4Network(vpc_cidr, strict=True)
    quarters = list(vpc.subnets(prefixlen_diff=2))
    halves = list(vpc.subnets(prefixlen_diff=1))
    second_quarter = list(quarters[1].subnets(new_prefix=vpc.prefixlen + 4))
    filestore = next(second_quarter[1].subnets(new_prefix=max(filestore_prefix, second_quarter[1].prefixlen)))
    return GcpRanges(nodes=str(quarters[0]), services=str(second_quarter[0]), filestore=str(filestore),
                     pods=str(halves[1]))


@dataclass(frozen=True)
class GcpNetworkArgs:
    cidr: str
    """VPC range, e.g. '10.0.0.0/16' (validated by the spec: /16 to /20, private)."""
    region: str
    tier: Tier
    """Decides the VPC MTU (1460, or 8896 on `ultra`)."""
    flow_logs: bool = False
    """VPC flow logs on the subnet (sampled at 50 %, 10-minute aggregation)."""
    peered_cidrs: tuple[str, ...] = ()
    """Networks that may reach the VMs (on-prem, other VPCs): firewall sources besides the VPC."""
    retain_for_data: bool = False
    """Prod with a retained Filestore: the VPC is kept on `pulumi destroy` (retain_on_delete); the
    instance's peering into it would block the network's deletion (README, "Teardown")."""


class GcpNetwork(pulumi.ComponentResource):
    network_id: pulumi.Output[str]
    """The VPC's id (`projects/<p>/global/networks/<n>`)."""
    network_self_link: pulumi.Output[str]
    """The VPC's self link (what GKE, Filestore and TPUs take)."""
    network_name: pulumi.Output[str]
    subnet_id: pulumi.Output[str]
    subnet_self_link: pulumi.Output[str]
    """The regional subnet every VM, TPU VM and GKE node uses."""
    pods_range_name: str
    """Secondary range name for GKE Pods (`ip_allocation_policy.cluster_secondary_range_name`)."""
    services_range_name: str
    """Secondary range name for GKE Services (`services_secondary_range_name`)."""
    ranges: GcpRanges
    """The CIDRs behind the subnet and its secondary ranges."""

    def __init__(self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:GcpNetwork", name, None, opts)
        row = tier_row(args.tier).gcp
        ranges = carve_gcp_ranges(args.cidr)
        child = pulumi.ResourceOptions(parent=self)

        vpc = gcp.compute.Network(
            f"{name}-vpc",
            auto_create_subnetworks=False,  # custom mode: only the subnets below exist
            routing_mode="REGIONAL",
            mtu=row.mtu,
            description=f"ai-infra VPC, tier {args.tier.value}",
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_for_data),
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-subnet",
            network=vpc.id,
            region=args.region,
            ip_cidr_range=ranges.nodes,
            # VMs without external IPs still reach GCS, Artifact Registry and the TPU API.
            private_ip_google_access=True,
            secondary_ip_ranges=[
                {"range_name": PODS_RANGE, "ip_cidr_range": ranges.pods},
                {"range_name": SERVICES_RANGE, "ip_cidr_range": ranges.services},
            ],
            log_config={"aggregation_interval": "INTERVAL_10_MIN", "flow_sampling": 0.5,
                        "metadata": "INCLUDE_ALL_METADATA"} if args.flow_logs else None,
            opts=child,
        )
        router = gcp.compute.Router(f"{name}-router", network=vpc.id, region=args.region, opts=child)
        gcp.compute.RouterNat(
            f"{name}-nat",
            router=router.name,
            region=args.region,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[{"name": subnet.id, "source_ip_ranges_to_nats": ["ALL_IP_RANGES"]}],
            # Many parallel downloads per VM (datasets, containers) exhaust the default 64 ports.
            enable_dynamic_port_allocation=True,
            min_ports_per_vm=256,
            max_ports_per_vm=16384,
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=child,
        )

        internal = [args.cidr, *args.peered_cidrs]
        gcp.compute.Firewall(
            f"{name}-internal",
            network=vpc.id,
            direction="INGRESS",
            priority=1000,
            source_ranges=internal,
            allows=[{"protocol": "tcp"}, {"protocol": "udp"}, {"protocol": "icmp"}],
            description="all traffic between VMs, TPU hosts, nodes and pods of this VPC (and peered networks)",
            opts=child,
        )
        gcp.compute.Firewall(
            f"{name}-iap-ssh",
            network=vpc.id,
            direction="INGRESS",
            priority=1000,
            source_ranges=[_IAP_RANGE],
            allows=[{"protocol": "tcp", "ports": ["22"]}],
            description="SSH through Identity-Aware Proxy only (no public IPs anywhere)",
            opts=child,
        )
        # Explicit lowest-priority deny, so a later broad allow rule is visible as an exception.
        gcp.compute.Firewall(
            f"{name}-deny-ingress",
            network=vpc.id,
            direction="INGRESS",
            priority=65534,
            source_ranges=["0.0.0.0/0"],
            denies=[{"protocol": "all"}],
            description="deny all other ingress",
            opts=child,
        )

        self.network_id = vpc.id
        self.network_self_link = vpc.self_link
        self.network_name = vpc.name
        self.subnet_id = subnet.id
        self.subnet_self_link = subnet.self_link
        self.pods_range_name = PODS_RANGE
        self.services_range_name = SERVICES_RANGE
        self.ranges = ranges
        self.register_outputs({
            "network_id": self.network_id,
            "network_self_link": self.network_self_link,
            "subnet_self_link": self.subnet_self_link,
        })

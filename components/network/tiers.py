"""The bandwidth tier table: what `standard`, `enhanced` and `ultra` mean on each cloud.

One row per tier, one column per cloud. Components read the row; nothing else decides
placement, EFA / gVNIC / Tier_1, NAT layout or MTU. The README carries the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Tier(StrEnum):
    STANDARD = "standard"
    ENHANCED = "enhanced"
    ULTRA = "ultra"


@dataclass(frozen=True)
class AwsTier:
    nat_per_az: bool
    """One NAT gateway per AZ (True) or a single shared one (False)."""
    s3_gateway_endpoint: bool
    cluster_placement: bool
    """GPU groups launch into a `cluster` placement group (unless they target reserved capacity)."""
    efa: bool
    """EFA interfaces on EFA-capable types, as many as the type takes."""
    efa_security_group: bool
    """A security group allowing all traffic to and from itself (EFA's requirement)."""
    single_az_gpu_subnet: bool
    """GPU groups go to one dedicated subnet in one AZ (cluster placement is single-AZ)."""


@dataclass(frozen=True)
class GcpTier:
    gvnic: bool
    compact_placement: bool
    tier1_networking: bool
    """TIER_1 egress bandwidth where the machine type supports it."""
    mtu: int


@dataclass(frozen=True)
class TierRow:
    tier: Tier
    summary: str
    aws: AwsTier
    gcp: GcpTier


TIERS: dict[Tier, TierRow] = {
    Tier.STANDARD: TierRow(
        Tier.STANDARD,
        "single-node jobs and dev: cheapest network",
        AwsTier(nat_per_az=False, s3_gateway_endpoint=False, cluster_placement=False, efa=False,
                efa_security_group=False, single_az_gpu_subnet=False),
        GcpTier(gvnic=False, compact_placement=False, tier1_networking=False, mtu=1460),
    ),
    Tier.ENHANCED: TierRow(
        Tier.ENHANCED,
        "multi-node data parallel on TCP: NAT per AZ, packed placement",
        AwsTier(nat_per_az=True, s3_gateway_endpoint=True, cluster_placement=True, efa=False,
                efa_security_group=False, single_az_gpu_subnet=False),
        GcpTier(gvnic=True, compact_placement=True, tier1_networking=False, mtu=1460),
    ),
    Tier.ULTRA: TierRow(
        Tier.ULTRA,
        "large multi-node training: OS-bypass fabric (EFA / Tier_1), one AZ",
        AwsTier(nat_per_az=True, s3_gateway_endpoint=True, cluster_placement=True, efa=True,
                efa_security_group=True, single_az_gpu_subnet=True),
        GcpTier(gvnic=True, compact_placement=True, tier1_networking=True, mtu=8896),
    ),
}


def tier_row(tier: Tier) -> TierRow:
    return TIERS[tier]


def markdown_table() -> str:
    """The tier table as Markdown, for the README (a test keeps the README in step)."""
    header = "| tier | use | AWS | GCP |\n|---|---|---|---|"
    lines = [header]
    for row in TIERS.values():
        a, g = row.aws, row.gcp
        aws_bits = [
            "NAT per AZ" if a.nat_per_az else "one NAT gateway",
            "S3 gateway endpoint" if a.s3_gateway_endpoint else "no endpoints",
            "cluster placement group" if a.cluster_placement else "no placement group",
            "EFA (all interfaces the type takes) + self-referencing SG" if a.efa else "ENA only",
        ]
        if a.single_az_gpu_subnet:
            aws_bits.append("single-AZ GPU subnet")
        gcp_bits = [
            "gVNIC" if g.gvnic else "virtio-net",
            "compact placement" if g.compact_placement else "no placement policy",
        ]
        if g.tier1_networking:
            gcp_bits.append("Tier_1 networking where supported")
        gcp_bits.append(f"MTU {g.mtu}")
        lines.append(f"| `{row.tier.value}` | {row.summary} | {', '.join(aws_bits)} | {', '.join(gcp_bits)} |")
    return "\n".join(lines)

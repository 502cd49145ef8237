"""The tier table is data: each tier's meaning on AWS and GCP, and the README carries the same table."""

from pathlib import Path

from components.network.tiers import TIERS, Tier, markdown_table

ROOT = Path(__file__).resolve().parents[3]


def test_every_tier_has_a_row() -> None:
    assert set(TIERS) == set(Tier)


def test_tiers_escalate_monotonically_on_aws() -> None:
    std, enh, ultra = (TIERS[t].aws for t in (Tier.STANDARD, Tier.ENHANCED, Tier.ULTRA))
    assert (std.nat_per_az, std.s3_gateway_endpoint, std.cluster_placement, std.efa) == (False, False, False, False)
    assert (enh.nat_per_az, enh.s3_gateway_endpoint, enh.cluster_placement, enh.efa) == (True, True, True, False)
    assert (ultra.efa, ultra.efa_security_group, ultra.single_az_gpu_subnet, ultra.cluster_placement) == (
        True, True, True, True)


def test_ultra_on_gcp_uses_jumbo_frames_and_tier1() -> None:
    assert TIERS[Tier.ULTRA].gcp.mtu == 8896
    assert TIERS[Tier.ULTRA].gcp.tier1_networking
    assert TIERS[Tier.ENHANCED].gcp.gvnic and TIERS[Tier.ENHANCED].gcp.compact_placement


def test_readme_carries_the_tier_table() -> None:
    assert markdown_table() in (ROOT / "README.md").read_text()

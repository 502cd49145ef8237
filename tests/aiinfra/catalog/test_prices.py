"""The price catalog: public list prices with source and date, and clear errors where there is none."""

from __future__ import annotations

import pytest

from aiinfra.catalog import aws_instance_types, load_json
from aiinfra.catalog.prices import (
    Market,
    NoPublicPriceError,
    PriceError,
    hourly_price,
    tpu_chips,
    unit_price,
)

AWS_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


def _aws_rows() -> list[dict[str, object]]:
    return list(load_json("prices_aws.json")["instances"])


@pytest.mark.parametrize("region", AWS_REGIONS)
def test_every_catalog_instance_type_is_priced_or_needs_a_negotiated_price(region: str) -> None:
    rows = {r["name"]: r for r in _aws_rows() if r["region"] == region}
    for name, facts in aws_instance_types().items():
        row = rows.get(name)
        assert row is not None, (name, region)
        if facts.capacity_blocks_only or row.get("no_public_price"):
            assert row.get("no_public_price"), name
            with pytest.raises(NoPublicPriceError):
                hourly_price(name, region)
        else:
            quote = hourly_price(name, region)
            assert quote.hourly_usd > 0 and quote.source.startswith("https://") and quote.as_of


def test_every_aws_row_is_priced_with_its_source_or_says_why_not() -> None:
    """On-demand, or a stated reason there is no public price; spot only below on-demand, or a stated reason
    it is missing (the spot market then fails with a clear error, never a made-up number)."""
    for row in _aws_rows():
        name, region = str(row["name"]), str(row["region"])
        if row.get("no_public_price"):
            assert row["on_demand"] is None and row["spot"] is None, row
            continue
        quote = hourly_price(name, region)
        assert quote.hourly_usd > 0 and quote.source.startswith("https://") and quote.as_of, row
        if row["spot"] is not None:
            assert 0 < hourly_price(name, region, "spot").hourly_usd < quote.hourly_usd, row
        else:
            assert "no spot price" in str(row.get("note", "")), row
            with pytest.raises(PriceError, match="has no spot price"):
                hourly_price(name, region, "spot")


@pytest.mark.parametrize(("name", "region", "expected"), [
    # The mid-2025 P5 cut: about $55/h, not the old $98.32.
    ("p5.48xlarge", "us-east-1", 55.04),
    ("p4d.24xlarge", "us-east-1", 21.957642),
    ("g5.xlarge", "us-east-1", 1.006),
    ("g6.xlarge", "us-east-1", 0.8048),
    ("g6e.12xlarge", "us-east-1", 10.49264),
    ("a3-highgpu-8g", "us-central1", 88.49),
    ("g2-standard-4", "us-central1", 0.70683228),
    ("nvidia-tesla-t4", "us-central1", 0.35),
])
def test_common_gpu_list_prices(name: str, region: str, expected: float) -> None:
    assert hourly_price(name, region).hourly_usd == pytest.approx(expected)


@pytest.mark.parametrize(("tpu", "region", "chips", "per_chip"), [
    # europe-west4 v5p: $4.2525/chip-hour (skypilot-catalog gcp vms.csv tpu-v5p-8 Price $17.01 / 4 chips; its
    # tpu-v5p-128 row lists $272.16, this test's figure), not the 1.1 x US guess ($4.62) it replaced.
    ("v5p-128", "europe-west4", 64, 4.2525), ("v5p-128", "us-central1", 64, 4.20),
    ("v5litepod-16", "us-central1", 16, 1.20), ("v6e-256", "us-east1", 256, 2.70), ("v4-32", "us-central2", 16, 3.22),
])
def test_tpu_slices_are_chips_times_chip_hour(tpu: str, region: str, chips: int, per_chip: float) -> None:
    quote = hourly_price(tpu, region)
    assert quote.hourly_usd == pytest.approx(chips * per_chip)
    assert f"{chips} chips" in quote.unit


def test_tpu_chip_counts_cores_for_v4_v5p_and_chips_for_v5e_v6e() -> None:
    assert tpu_chips("v5p-128") == ("v5p", 64)
    assert tpu_chips("v4-8") == ("v4", 4)
    assert tpu_chips("v5litepod-8") == ("v5e", 8)
    assert tpu_chips("v6e-4") == ("v6e", 4)
    assert tpu_chips("v5p-3") is None
    assert tpu_chips("p5.48xlarge") is None


def test_tpu_commitment_prices_are_public() -> None:
    od = hourly_price("v5p-8", "us-east5").hourly_usd
    one = hourly_price("v5p-8", "us-east5", Market.COMMIT_1Y).hourly_usd
    three = hourly_price("v5p-8", "us-east5", Market.COMMIT_3Y).hourly_usd
    assert od == pytest.approx(4 * 4.20) and three < one < od


def test_capacity_block_only_type_requires_the_negotiated_price() -> None:
    with pytest.raises(NoPublicPriceError) as err:
        hourly_price("p5e.48xlarge", "us-east-1")
    assert "To fix: finance adds its contract price to aiinfra/catalog/data/negotiated_prices.json" in str(err.value)
    quote = hourly_price("p5e.48xlarge", "us-east-1", negotiated={"p5e.48xlarge": 41.5})
    assert (quote.hourly_usd, quote.market) == (41.5, "negotiated")


def test_unknown_name_suggests_close_names() -> None:
    with pytest.raises(PriceError) as err:
        hourly_price("p5.48xl", "us-east-1")
    assert str(err.value).startswith(
        "'p5.48xl' is not a priced instance type, machine type, GPU or TPU type; did you mean")
    assert "'p5.48xlarge'" in str(err.value)


def test_unknown_region_suggests_close_regions() -> None:
    with pytest.raises(PriceError) as err:
        hourly_price("g5.xlarge", "us-west-1")
    assert str(err.value) == ("'g5.xlarge' is not priced in region 'us-west-1'; did you mean 'us-west-2', 'us-east-1'? "
                              "(priced regions: ap-northeast-1, eu-central-1, eu-west-1, us-east-1, us-east-2, "
                              "us-west-2)")


def test_unit_prices_carry_source_and_date() -> None:
    efs = unit_price("aws.efs.standard", "us-east-1")
    assert (efs.usd, efs.unit) == (0.30, "GB-month") and efs.source == "https://aws.amazon.com/efs/pricing/"
    assert unit_price("aws.nat.hour", "us-east-1").usd == 0.045
    assert unit_price("gcp.gke.control_plane", "us-central1").usd == 0.10
    with pytest.raises(PriceError, match=r"did you mean 'aws\.efs\.standard'"):
        unit_price("aws.efs.standrd", "us-east-1")


@pytest.mark.parametrize("filename", ["prices_aws.json", "prices_gcp.json"])
def test_every_price_entry_has_source_and_as_of(filename: str) -> None:
    doc = load_json(filename)
    for table, rows in doc.items():
        if not isinstance(rows, list):
            continue
        for row in rows:
            assert row.get("source") and row.get("as_of"), (table, row)

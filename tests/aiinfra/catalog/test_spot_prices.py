"""AWS spot prices are observed prices, not fractions of on-demand (issue 14).

Before: every AWS spot figure was on-demand times 0.35, 0.40, 0.42 or 0.45, labelled as a "typical recent
spot price". Now each one is read from a snapshot of EC2's own spot price history (skypilot-catalog's
aws vms.csv, one SpotPrice per availability zone, taken from DescribeSpotPriceHistory) and aggregated per
region the way `aiinfra catalog refresh` aggregates a spot window: the mean over the region's zones. A row
the snapshot does not cover has no spot price, so the spot market is refused rather than guessed.
"""

from __future__ import annotations

import re

import pytest

from aiinfra.catalog import load_json
from aiinfra.catalog.prices import PriceError, hourly_price

SNAPSHOT_COMMIT = "00148f2af3672e2229b4f7bf8157d5a3f36e3c35"
OLD_FRACTIONS = (0.35, 0.40, 0.42, 0.45)
ZONE_PREFIX = {"us-east-1": "use1-az", "us-east-2": "use2-az", "us-west-2": "usw2-az", "eu-west-1": "euw1-az",
               "eu-central-1": "euc1-az", "ap-northeast-1": "apne1-az"}
"""AWS zone IDs of the catalog's regions (a zone ID names its region, unlike a zone name's letter)."""
SPOT_FLOOR = 0.05
"""`aiinfra catalog refresh` refuses a spot mean below 5% or above 100% of on-demand (refresh.aws.SPOT_FLOOR)."""


def _spot_rows() -> list[dict[str, object]]:
    return [r for r in load_json("prices_aws.json")["instances"] if r.get("spot") is not None]


def _zone_prices(source: str) -> list[tuple[str, float]]:
    listed = source.rsplit(": ", 1)[1]
    return [(z, float(p)) for z, p in (item.split() for item in listed.split(", "))]


def test_no_aws_spot_price_is_a_fixed_fraction_of_on_demand() -> None:
    rows = _spot_rows()
    assert len(rows) >= 140
    for r in rows:
        assert "typical" not in str(r.get("spot_source", "")), r
        ratio = float(r["spot"]) / float(r["on_demand"])  # type: ignore[arg-type]
        if any(abs(ratio - f) < 5e-5 for f in OLD_FRACTIONS):
            # An observed mean can land on an old fraction by chance (m6i.2xlarge in us-east-1 averages
            # $0.16128 over five zones, 0.42 x $0.384); it must then show the zone prices it averages.
            assert len(_zone_prices(str(r.get("spot_source", "")))) >= 2, (r["name"], r["region"], ratio)
    ratios = {round(float(r["spot"]) / float(r["on_demand"]), 3) for r in rows}  # type: ignore[arg-type]
    assert len(ratios) > len(rows) // 2, "spot prices move with each type and zone; a handful of ratios is a rule"


def test_every_aws_spot_price_names_its_snapshot_and_aggregation() -> None:
    for r in _spot_rows():
        source = str(r.get("spot_source", ""))
        assert "skypilot-catalog" in source and "catalogs/v8/aws/vms.csv" in source, r
        assert SNAPSHOT_COMMIT in source and "DescribeSpotPriceHistory" in source, r
        assert "mean over the region's zones" in source and "spot_means" in source, r


def test_every_aws_spot_price_is_the_mean_of_the_zone_prices_it_lists() -> None:
    for r in _spot_rows():
        zones = _zone_prices(str(r["spot_source"]))
        assert zones, r
        for zone, _ in zones:
            assert re.fullmatch(ZONE_PREFIX[str(r["region"])] + r"\d+", zone), (r["name"], r["region"], zone)
        assert len({z for z, _ in zones}) == len(zones), r
        mean = round(sum(p for _, p in zones) / len(zones), 6)
        assert float(r["spot"]) == pytest.approx(mean, abs=1e-9), (r["name"], r["region"])  # type: ignore[arg-type]


def test_every_aws_spot_price_is_within_what_a_refresh_accepts() -> None:
    for r in _spot_rows():
        on_demand = float(r["on_demand"])  # type: ignore[arg-type]
        assert SPOT_FLOOR * on_demand <= float(r["spot"]) <= on_demand, r  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "region"), [("g6.xlarge", "us-east-1"), ("g6.2xlarge", "us-east-1"),
                                              ("g6e.12xlarge", "us-east-1"), ("g6e.24xlarge", "us-east-1"),
                                              ("p5.48xlarge", "us-east-1")])
def test_the_stacks_spot_groups_are_priced_from_observed_spot(name: str, region: str) -> None:
    """dev (g6 spot), staging (g6e mixed) and prod (p5 mixed) bill spot hours at the observed price."""
    quote = hourly_price(name, region, "spot")
    assert SNAPSHOT_COMMIT in quote.source
    assert quote.hourly_usd < hourly_price(name, region, "on-demand").hourly_usd


def test_a_row_without_an_observed_spot_price_refuses_the_spot_market() -> None:
    """g6 is not in the snapshot for eu-west-1: no fraction stands in for the missing observation."""
    with pytest.raises(PriceError) as err:
        hourly_price("g6.xlarge", "eu-west-1", "spot")
    assert str(err.value) == "'g6.xlarge' in eu-west-1 has no spot price; priced markets: on-demand"


def test_a_row_with_a_spot_price_does_not_say_it_has_none() -> None:
    # A note left from the pass that removed the fractions would tell finance the opposite of the data.
    stale = [(r["name"], r["region"]) for r in _spot_rows() if "no spot price" in str(r.get("note") or "")]
    assert stale == []


@pytest.mark.parametrize(("name", "region", "spot", "zones"), [
    ("c6i.large", "us-east-1", 0.0393, 5), ("c6i.2xlarge", "eu-west-1", 0.2249, 3),
    ("c6i.4xlarge", "ap-northeast-1", 0.342667, 3), ("m5.2xlarge", "ap-northeast-1", 0.1865, 3),
    ("inf2.xlarge", "us-east-1", 0.146675, 4), ("inf2.48xlarge", "eu-central-1", 19.01745, 2),
    ("trn1.2xlarge", "us-east-2", 0.154, 1), ("trn1.32xlarge", "us-east-1", 4.242267, 3),
    ("trn1n.32xlarge", "us-west-2", 4.2537, 1),
])
def test_system_pool_and_neuron_rows_are_priced_from_observed_spot(name: str, region: str, spot: float,
                                                                   zones: int) -> None:
    """The c6i/m5 system-pool types and the Inferentia/Trainium types in the added regions are averaged from the
    snapshot's availability zones (Local Zones such as use1-atl2-az1 left out), like the GPU rows."""
    quote = hourly_price(name, region, "spot")
    assert quote.hourly_usd == spot and SNAPSHOT_COMMIT in quote.source
    assert len(_zone_prices(quote.source)) == zones
    assert quote.hourly_usd < hourly_price(name, region, "on-demand").hourly_usd


@pytest.mark.parametrize(("name", "region", "why"), [
    ("p5.4xlarge", "us-east-1", None),  # the snapshot lists the type there with an empty SpotPrice in every zone
    ("g5.48xlarge", "ap-northeast-1", "above on-demand"),
    ("inf2.8xlarge", "ap-northeast-1", "above on-demand"),
    ("inf2.8xlarge", "eu-central-1", "above on-demand"),
    ("p5.4xlarge", "ap-northeast-1", "equal to on-demand"),
])
def test_a_snapshot_mean_at_or_above_on_demand_is_not_a_spot_price(name: str, region: str, why: str | None) -> None:
    """A zone whose spot price sits at the on-demand cap shows no discount: the row keeps no spot price and says why."""
    with pytest.raises(PriceError, match="has no spot price"):
        hourly_price(name, region, "spot")
    row = next(r for r in load_json("prices_aws.json")["instances"] if (r["name"], r["region"]) == (name, region))
    assert row["spot"] is None and "spot_source" not in row
    if why:
        assert why in str(row["note"]) and SNAPSHOT_COMMIT in str(row["note"])

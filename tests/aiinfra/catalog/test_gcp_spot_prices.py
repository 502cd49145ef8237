"""GCP spot prices are observed prices, not fractions of on-demand (issue 14).

Before: every GCP spot figure was on-demand times 0.3 (A-series), 0.4 (G2, GPUs, TPUs) or about 0.21 / 0.24
(N1, N2, E2), identical in every US region. Now each one is read from a snapshot of the Cloud Billing Catalog
API's spot (Preemptible) SKUs (skypilot-catalog's gcp vms.csv, one SpotPrice per availability zone) and
aggregated per region the way `aiinfra catalog refresh` aggregates spot: the mean over the region's zones.
The snapshot lists an accelerator-optimized machine's GPUs apart from the machine, so a G2/A2/A3 zone figure is
the machine row plus the GPU row of that zone; a TPU figure is the slice price over its chips. A row the
snapshot does not cover (or that was not transcribed yet) has no spot price, so the spot market is refused.
"""

from __future__ import annotations

import re

import pytest

from aiinfra.catalog import load_json
from aiinfra.catalog.prices import PriceError, hourly_price

SNAPSHOT = "skypilot-org/skypilot-catalog catalogs/v8/gcp/vms.csv @006059e0f18acb1341e22a27751e9f80df6ba92f"
OLD_FRACTIONS = (0.3, 0.4, 0.2105, 0.2425, 0.3012)
"""The made-up ratios (n1 $0.04/$0.189999 = 0.2105, n2 0.2425, e2 0.3)."""
SPOT_FLOOR = 0.05
"""A spot mean below 5% or above 100% of on-demand is refused, as `aiinfra catalog refresh` refuses an AWS one
(refresh.aws.SPOT_FLOOR; the GCP refresh takes the SKU price as is and has no bound of its own)."""


def _rows() -> list[dict[str, object]]:
    doc = load_json("prices_gcp.json")
    return [r for section in ("machine_types", "gpus", "tpus") for r in doc[section]]


def _spot_rows() -> list[dict[str, object]]:
    return [r for r in _rows() if r.get("spot") is not None]


def _zone_prices(source: str) -> list[tuple[str, float]]:
    listed = source.rsplit(": ", 1)[1]
    return [(z, float(p)) for z, p in (item.split() for item in listed.split(", "))]


def _key(r: dict[str, object]) -> tuple[str, str]:
    return str(r.get("name", r.get("generation"))), str(r["region"])


def test_every_gcp_spot_price_is_observed_not_a_fraction() -> None:
    rows = _spot_rows()
    assert len(rows) >= 138  # of 208: the other 70 are rows the snapshot lists no zone for
    for r in rows:
        assert SNAPSHOT in str(r.get("spot_source", "")), _key(r)
        ratio = float(r["spot"]) / float(r["on_demand"])  # type: ignore[arg-type]
        if any(abs(ratio - f) < 5e-4 for f in OLD_FRACTIONS) and SNAPSHOT not in str(r.get("source", "")):
            # Google's own spot SKU can sit on a round fraction (TPU v5p in us-east5 is $1.68 = 0.4 x $4.20 in
            # all three zones); such a row must show the zone prices it averages. A row whose on-demand figure
            # is the snapshot's too (A2 in us-west4: spot SKUs 0.4 x on-demand, one zone) is Google's ratio.
            assert len(_zone_prices(str(r["spot_source"]))) >= 2, (_key(r), ratio)
    # GCP prices a machine per vCPU and GiB, so the sizes of one series share a ratio in a region; but the ratio
    # moves with series and region. The fractions gave 5 distinct ratios over all rows and regions.
    ratios = {round(float(r["spot"]) / float(r["on_demand"]), 3) for r in rows}  # type: ignore[arg-type]
    assert len(ratios) >= 40, "a handful of ratios is a rule, not an observation"
    by_type: dict[str, set[float]] = {}
    for r in rows:
        by_type.setdefault(_key(r)[0], set()).add(round(float(r["spot"]) / float(r["on_demand"]), 3))  # type: ignore[arg-type]
    assert sum(len(v) > 1 for v in by_type.values()) >= 20, "the same spot ratio in every region is a rule"


def test_every_gcp_spot_price_names_its_snapshot_and_aggregation() -> None:
    for r in _spot_rows():
        source = str(r["spot_source"])
        assert "Cloud Billing Catalog API" in source and "fetch_gcp.py" in source, _key(r)
        assert "mean over the region's zones" in source and "spot_means" in source, _key(r)


def test_every_gcp_spot_price_is_the_mean_of_the_zone_prices_it_lists() -> None:
    for r in _spot_rows():
        zones = _zone_prices(str(r["spot_source"]))
        assert zones, _key(r)
        for zone, _ in zones:
            assert re.fullmatch(re.escape(str(r["region"])) + r"-[a-f]", zone), (_key(r), zone)
        assert len({z for z, _ in zones}) == len(zones), _key(r)
        mean = round(sum(p for _, p in zones) / len(zones), 6)
        assert float(r["spot"]) == pytest.approx(mean, abs=1e-9), _key(r)  # type: ignore[arg-type]


def test_every_gcp_spot_price_is_within_what_a_refresh_accepts() -> None:
    for r in _spot_rows():
        on_demand = float(r["on_demand"])  # type: ignore[arg-type]
        assert SPOT_FLOOR * on_demand <= float(r["spot"]) <= on_demand, _key(r)  # type: ignore[arg-type]


def test_a_row_without_spot_says_why() -> None:
    for r in _rows():
        if r.get("spot") is None and r.get("on_demand") is not None:
            assert "no spot price" in str(r.get("note", "")), _key(r)
            assert "spot_source" not in r, _key(r)


def test_accelerator_optimized_zone_figures_add_the_machine_and_its_gpus() -> None:
    """g2-standard-8 in us-central1: machine row $0.11747 + L4 row $0.2231 in each of three zones."""
    row = next(r for r in load_json("prices_gcp.json")["machine_types"]
               if (r["name"], r["region"]) == ("g2-standard-8", "us-central1"))
    assert _zone_prices(row["spot_source"]) == [(f"us-central1-{z}", 0.34057) for z in "abc"]
    assert "InstanceType rows us-central1-a 0.11747" in row["spot_source"]
    assert "GPU rows us-central1-a 0.2231" in row["spot_source"]


@pytest.mark.parametrize(("name", "region", "hourly"), [
    ("g2-standard-8", "us-central1", 0.34057),     # gcp-dev GPU group (spot)
    ("a3-highgpu-8g", "us-central1", 26.83013),    # gcp-prod eval group (spot)
    ("v5litepod-8", "us-central1", 1.9594),        # gcp-dev TPU slice (spot): 8 chips x $0.24493
    ("v5litepod-16", "us-central1", 3.9189),       # gcp-prod GKE TPU pool when run spot
])
def test_the_gcp_stacks_spot_capacity_is_priced_from_the_snapshot(name: str, region: str, hourly: float) -> None:
    quote = hourly_price(name, region, "spot")
    assert SNAPSHOT in quote.source
    assert quote.hourly_usd == pytest.approx(hourly, abs=1e-4)
    assert quote.hourly_usd < hourly_price(name, region, "on-demand").hourly_usd


def test_tpu_v5p_europe_west4_on_demand_is_the_snapshot_price() -> None:
    """$4.2525/chip-hour (tpu-v5p-8: $17.01 for 4 chips), not the 1.1 x US guess of $4.62."""
    quote = hourly_price("v5p-8", "europe-west4", "on-demand")
    assert quote.hourly_usd == pytest.approx(17.01)
    assert SNAPSHOT in quote.source


def test_a_row_without_an_observed_spot_price_refuses_the_spot_market() -> None:
    """The snapshot lists no us-east5 zone for G2: no fraction stands in for the missing observation."""
    with pytest.raises(PriceError) as err:
        hourly_price("g2-standard-8", "us-east5", "spot")
    assert "has no spot price" in str(err.value)

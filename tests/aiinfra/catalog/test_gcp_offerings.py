"""GCP machine types are priced only in regions that offer them (issue 14).

The catalog priced a3-megagpu-8g (A3 Mega, 8 x H100 80GB Mega) in all six of its GCP regions. Compute
Engine offers it in none of us-east1's or us-central2's zones: skypilot-catalog's `catalogs/v8/gcp/vms.csv`
@8427bbf, built from Compute Engine's per-zone machine-type list, lists a3-megagpu-8g hosts in 13 regions
(asia-east1, asia-northeast1, asia-southeast1, australia-southeast1, europe-north1, europe-west1,
europe-west3, europe-west4, us-central1, us-east4, us-east5, us-west1, us-west4) and neither of those two.
A price row there would let a plan in us-east1 cost (and pass the budget gate with) a machine type
`pulumi up` cannot create.
"""

from __future__ import annotations

import pytest

from aiinfra.catalog import load_json
from aiinfra.catalog.prices import PriceError, hourly_price

A3_MEGA_REGIONS = frozenset({"asia-east1", "asia-northeast1", "asia-southeast1", "australia-southeast1",
                             "europe-north1", "europe-west1", "europe-west3", "europe-west4", "us-central1",
                             "us-east4", "us-east5", "us-west1", "us-west4"})
"""Regions with an a3-megagpu-8g zone in skypilot-catalog catalogs/v8/gcp/vms.csv @8427bbf (read 2026-11-30)."""


def test_a3_mega_is_priced_only_where_compute_engine_offers_it() -> None:
    regions = {r["region"] for r in load_json("prices_gcp.json")["machine_types"] if r["name"] == "a3-megagpu-8g"}
    assert regions, "a3-megagpu-8g is priced somewhere"
    assert regions <= A3_MEGA_REGIONS, sorted(regions - A3_MEGA_REGIONS)


@pytest.mark.parametrize("region", ["us-east1", "us-central2"])
def test_a3_mega_outside_its_regions_is_refused_with_where_it_is_priced(region: str) -> None:
    with pytest.raises(PriceError) as err:
        hourly_price("a3-megagpu-8g", region, "on-demand")
    assert f"'a3-megagpu-8g' is not priced in region '{region}'" in str(err.value)
    assert "us-central1" in str(err.value)

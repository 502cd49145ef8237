"""GCP on-demand prices outside us-central1 are the region's own, not the us-central1 price copied (issue 14).

Before: the hand-typed on-demand figures of us-east1, us-east5, us-west4 and us-central2 were the us-central1
price, and europe-west4's were 1.1 x the us-central1 price. The same snapshot the spot figures come from
(skypilot-catalog's gcp vms.csv, whose Price column is the Compute Engine on-demand SKU price from the Cloud
Billing Catalog API) gives every zone's on-demand price. It matches Google's page in us-central1 for every
machine series and for the L4, A100 40GB, T4, V100, P4 and P100 GPU rows; it does not for A100 80GB (its GPU
row is below its own spot price), H100 (half the list price) and H200 (2.3% high), so no figure built on those
GPU rows is taken anywhere. A region's GPU row is also taken only where another GPU or machine series shows the
same factor over us-central1 in that region (the A100 europe-west4 row is 0.55 x, H100-MEGA us-east5 and
europe-west4 are 0.43 x and 1.3 x: no other family agrees).

The snapshot lists an accelerator-optimized type's GPUs apart from the machine, so a G2/A2/A3 on-demand figure
is the machine row plus the GPU row of its AcceleratorName and AcceleratorCount; each changed row's `source`
shows the sum and its `note` the hand-typed figure it replaced.
"""

from __future__ import annotations

import re

import pytest

from aiinfra.catalog import load_json
from aiinfra.catalog.prices import hourly_price

SNAPSHOT = "skypilot-org/skypilot-catalog catalogs/v8/gcp/vms.csv @006059e0f18acb1341e22a27751e9f80df6ba92f"
TERM = re.compile(r"(?P<name>[\w.-]+) (?:x(?P<count>\d+) )?row (?P<price>\d+(?:\.\d+)?)")

SNAPSHOT_US_EAST5_US_WEST4 = {
    # (type, region): the snapshot's on-demand figure (InstanceType row, + GPU row for G2/A2/A3), the same in every
    # zone of the region it lists. us-east5 prices N2 and E2 as us-central1 does; us-west4 is 12.6% above it for
    # machines and L4, 5.7% for T4 and A100.
    ("n2-standard-4", "us-east5"): 0.19424,
    ("n2-standard-8", "us-east5"): 0.38847,
    ("n2-standard-16", "us-east5"): 0.77694,
    ("e2-standard-2", "us-east5"): 0.06701,
    ("e2-standard-4", "us-east5"): 0.13402,
    ("e2-standard-8", "us-east5"): 0.26805,
    ("n1-standard-4", "us-west4"): 0.21398,
    ("n1-standard-8", "us-west4"): 0.42797,
    ("n1-standard-16", "us-west4"): 0.85594,
    ("n2-standard-4", "us-west4"): 0.21875,
    ("n2-standard-8", "us-west4"): 0.4375,
    ("n2-standard-16", "us-west4"): 0.87499,
    ("e2-standard-2", "us-west4"): 0.07547,
    ("e2-standard-4", "us-west4"): 0.15094,
    ("e2-standard-8", "us-west4"): 0.30188,
    ("g2-standard-4", "us-west4"): 0.7961,       # 0.16533 + L4 0.63077
    ("g2-standard-8", "us-west4"): 0.96143,
    ("g2-standard-12", "us-west4"): 1.12677,
    ("g2-standard-16", "us-west4"): 1.2921,
    ("g2-standard-24", "us-west4"): 2.25354,     # 0.99199 + L4 x2 1.26155
    ("g2-standard-32", "us-west4"): 1.95342,
    ("g2-standard-48", "us-west4"): 4.50707,
    ("g2-standard-96", "us-west4"): 9.01415,
    ("a2-highgpu-1g", "us-west4"): 3.93436,      # 0.8328 + A100 3.10156
    ("a2-highgpu-2g", "us-west4"): 7.86871,
    ("a2-highgpu-4g", "us-west4"): 15.73742,
    ("a2-highgpu-8g", "us-west4"): 31.47484,
    ("a3-megagpu-8g", "us-west4"): 103.86095,    # 10.65487 + H100-MEGA x8 93.20608
    ("nvidia-tesla-t4", "us-west4"): 0.37,
}
NOT_TAKEN = {
    # (type, region): the snapshot's figure, which is not used (see the module docstring); the row keeps its
    # hand-typed figure until a refresh or Google's page says otherwise.
    ("a2-ultragpu-1g", "us-central1"): 2.94582,   # A100-80GB row 1.8462 < its spot 1.964
    ("a3-highgpu-8g", "us-central1"): 43.06615,   # H100 x8 row 33.60609: half the list price
    ("a3-ultragpu-8g", "us-central1"): 86.75992,  # H200 x8 row 74.49392: 2.3% above the list price
    ("a2-ultragpu-1g", "us-east5"): 5.52382,
    ("a3-highgpu-8g", "us-east5"): 98.92567,
    ("a3-megagpu-8g", "us-east5"): 46.04636,      # H100-MEGA x8 row 35.39149, the figure of 8 regions
    ("a3-ultragpu-8g", "us-east5"): 50.41777,
    ("a3-highgpu-8g", "us-west4"): 44.26096,
    ("a2-highgpu-1g", "europe-west4"): 2.42771,   # A100 row 1.61365 = 0.55 x us-central1
    ("a3-megagpu-8g", "europe-west4"): 117.51354,  # H100-MEGA x8 row 107.58048 = 1.3 x us-central1
}


def _rows() -> dict[tuple[str, str], dict[str, object]]:
    doc = load_json("prices_gcp.json")
    return {(str(r["name"]), str(r["region"])): r for section in ("machine_types", "gpus") for r in doc[section]}


def _changed() -> list[dict[str, object]]:
    return [r for r in _rows().values() if str(r["source"]).startswith(SNAPSHOT)]


def _terms(source: str) -> tuple[list[tuple[str, int, float]], list[str]]:
    """The snapshot rows a source adds up, as (InstanceType or AcceleratorName, AcceleratorCount, Price), and
    the zones it says give that Price."""
    formula, zones = source.split("; on-demand = ", 1)[1].split(" (the same Price in ", 1)
    terms = []
    for term in formula.split(" + "):
        m = TERM.fullmatch(term)
        assert m, term
        terms.append((m["name"], int(m["count"] or 0), float(m["price"])))
    return terms, zones.rstrip(")").split(", ")


def test_changed_on_demand_prices_are_the_sum_of_the_snapshot_rows_they_cite() -> None:
    changed = _changed()
    assert len(changed) == 44
    for r in changed:
        key = (r["name"], r["region"])
        source = str(r["source"])
        assert "Price column" in source and "Cloud Billing Catalog API" in source and "fetch_gcp.py" in source, key
        assert r["as_of"] == "2026-11-30", key
        terms, zones = _terms(source)
        on_demand = float(r["on_demand"])  # type: ignore[arg-type]
        assert on_demand == pytest.approx(round(sum(p for _, _, p in terms), 6), abs=1e-9), key
        assert zones and all(re.fullmatch(re.escape(str(r["region"])) + r"-[a-f]", z) for z in zones), key
        machine = [t for t in terms if t[1] == 0]
        gpus = [t for t in terms if t[1] > 0]
        if str(r["name"]).startswith(("g2-", "a2-", "a3-")):
            # the machine row and the GPU row of the type's AcceleratorName and AcceleratorCount
            assert [t[0] for t in machine] == [r["name"]] and len(gpus) == 1, key
            assert "GPUs apart from the machine" in source, key
        elif str(r["name"]).startswith("nvidia-"):
            assert not machine and [t[1] for t in gpus] == [1], key
        else:
            assert [t[0] for t in machine] == [r["name"]] and not gpus, key
        spot = r.get("spot")
        assert spot is None or float(spot) <= on_demand, key  # type: ignore[arg-type]


def test_each_changed_row_says_which_hand_typed_figure_it_replaced() -> None:
    rows = _rows()
    for r in _changed():
        key = (r["name"], r["region"])
        m = re.fullmatch(r"on_demand was \$(\d+(?:\.\d+)?): (.*) \(hand-typed 2026-11-28\)", str(r["note"]))
        assert m, key
        old, central = float(m[1]), float(rows[(str(r["name"]), "us-central1")]["on_demand"])  # type: ignore[arg-type]
        if r["region"] == "europe-west4":
            assert m[2] == "1.1 x the us-central1 price, not a published figure"
            assert old == pytest.approx(1.1 * central, rel=1e-5), key
        else:
            assert m[2] == "the us-central1 price copied" and old == central, key


def test_us_east5_and_us_west4_on_demand_prices_are_the_snapshot_figures() -> None:
    """Before, every one of these was the us-central1 price; us-west4's differ from it by 5.7% to 12.6%."""
    rows = _rows()
    for key, figure in SNAPSHOT_US_EAST5_US_WEST4.items():
        row = rows[key]
        # us-east5's N2 and E2 rows keep Google's 6-decimal figures, which the snapshot rounds to 5
        assert float(row["on_demand"]) == pytest.approx(figure, rel=5e-4), key  # type: ignore[arg-type]
        central = float(rows[(key[0], "us-central1")]["on_demand"])  # type: ignore[arg-type]
        if key[1] == "us-west4":
            assert float(row["on_demand"]) / central > 1.05, key  # type: ignore[arg-type]
        else:  # us-east5 is priced as us-central1 for these, within the snapshot's 5-decimal rounding
            assert float(row["on_demand"]) == pytest.approx(central, rel=5e-4), key  # type: ignore[arg-type]


def test_no_us_west4_row_the_snapshot_prices_is_the_us_central1_price_copied() -> None:
    rows = _rows()
    listed = {k for k in SNAPSHOT_US_EAST5_US_WEST4 if k[1] == "us-west4"}
    for (name, region), row in rows.items():
        if region == "us-west4" and (name, region) in listed:
            assert row["on_demand"] != rows[(name, "us-central1")]["on_demand"], name


def test_the_snapshot_is_not_taken_where_its_gpu_row_is_not_a_list_price() -> None:
    rows = _rows()
    for key, figure in NOT_TAKEN.items():
        row = rows[key]
        assert not str(row["source"]).startswith(SNAPSHOT), key
        assert abs(float(row["on_demand"]) / figure - 1) > 0.005, key  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "region", "hourly"), [
    ("g2-standard-8", "us-west4", 0.96143),
    ("g2-standard-8", "europe-west4", 0.89661),
    ("e2-standard-4", "us-west4", 0.15094),
    ("a3-megagpu-8g", "us-west4", 103.86095),
    ("nvidia-tesla-t4", "europe-west4", 0.3675),
])
def test_quotes_outside_us_central1_cite_the_snapshot(name: str, region: str, hourly: float) -> None:
    quote = hourly_price(name, region, "on-demand")
    assert quote.hourly_usd == pytest.approx(hourly)
    assert quote.source.startswith(SNAPSHOT) and quote.as_of == "2026-11-30"


def test_the_gcp_stacks_on_demand_capacity_is_unchanged() -> None:
    """The stacks run in us-central1, whose figures are Google's page and agree with the snapshot."""
    assert hourly_price("g2-standard-8", "us-central1", "on-demand").hourly_usd == pytest.approx(0.853627)
    assert hourly_price("a3-highgpu-8g", "us-central1", "on-demand").hourly_usd == pytest.approx(88.49)


CONFIRMED_AS_US_CENTRAL1 = 30
"""us-east1 (24) and us-east5 (N2, E2: 6) rows whose snapshot price is the us-central1 one: confirmed, not assumed."""


def test_a_regional_figure_that_is_not_the_regions_list_price_says_so() -> None:
    """89 rows outside us-central1 have no regional price of their own: the us-central1 figure (77) or 1.1 x it
    (12, europe-west4 A2/A3). Each carries `assumed`, the quote passes it on, and `aiinfra price` prints it."""
    rows = _rows()
    assumed = {k: str(r["assumed"]) for k, r in rows.items() if r.get("assumed")}
    assert len(assumed) == 89
    for (name, region), what in assumed.items():
        central = float(rows[(name, "us-central1")]["on_demand"])  # type: ignore[arg-type]
        ours = float(rows[(name, region)]["on_demand"])  # type: ignore[arg-type]
        factor = 1.1 if what.startswith("1.1 x") else 1.0
        assert ours == pytest.approx(factor * central, rel=1e-5), (name, region)
        assert not str(rows[(name, region)]["source"]).startswith(SNAPSHOT)
    # the other rows outside us-central1 with its figure are the ones the snapshot prices as us-central1 does
    copies = {k for k, r in rows.items() if k[1] != "us-central1" and k not in assumed
              and r["on_demand"] == rows[(k[0], "us-central1")]["on_demand"]}
    assert len(copies) == CONFIRMED_AS_US_CENTRAL1 and {region for _, region in copies} == {"us-east1", "us-east5"}
    quote = hourly_price("a3-highgpu-8g", "us-west4", "on-demand")
    assert quote.assumed == "the us-central1 price"
    assert hourly_price("a3-highgpu-8g", "us-west4", "spot").assumed == ""  # spot is the region's own observation
    assert hourly_price("g2-standard-8", "us-west4", "on-demand").assumed == ""

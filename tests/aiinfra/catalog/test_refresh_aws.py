"""AWS side of `aiinfra catalog refresh` on recorded excerpts in the real formats.

`data/refresh/` holds an AmazonEC2 bulk offer file excerpt (us-east-1), a pricing:GetProducts
response (us-east-2: EC2, EFS, FSx for Lustre, S3 with its tiers, EKS), a
DescribeSpotPriceHistory response and a small catalog in the catalog's own format.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from aiinfra.catalog.refresh import RefreshError, RefreshInputs, refresh
from aiinfra.catalog.refresh import aws as refresh_aws

DATA = Path(__file__).parent / "data" / "refresh"
OFFER = DATA / "aws_offer_AmazonEC2_us-east-1_excerpt.json"
PRODUCTS = DATA / "aws_getproducts_us-east-2_excerpt.json"
SPOT = DATA / "aws_spot_history_us-east-1_excerpt.json"
END = datetime(2026, 11, 29, tzinfo=UTC)


def load(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    for f in (DATA / "catalog").iterdir():
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


def test_offer_file_keeps_only_linux_shared_tenancy_used_capacity() -> None:
    items = list(refresh_aws.items_from_offer_file(load(OFFER)))
    prices = refresh_aws.instance_prices(items, {"g5.xlarge", "p5.48xlarge", "g6.xlarge"})
    # the Windows, SQL Web and unused-reservation rows of g5.xlarge are not the list price
    assert prices == {("g5.xlarge", "us-east-1"): (1.006, "2026-11-20T18:30:27Z"),
                      ("g6.xlarge", "us-east-1"): (0.8048, "2026-11-20T18:30:27Z"),
                      ("p5.48xlarge", "us-east-1"): (55.04, "2026-11-20T18:30:27Z")}


def test_units_from_get_products_take_the_first_tier_and_skip_lookalikes() -> None:
    items = list(refresh_aws.items_from_get_products([load(PRODUCTS)]))
    units = {k: v[0] for k, v in refresh_aws.unit_prices(items).items()}
    assert units == {
        ("efs.standard", "us-east-2"): 0.30,  # not the One Zone row (TimedStorage-Z-ByteHrs)
        ("efs.infrequent_access", "us-east-2"): 0.016,
        ("efs.provisioned_throughput", "us-east-2"): 6.0,
        ("fsx.lustre.persistent_2.125", "us-east-2"): 0.145,  # not the backup row
        ("fsx.lustre.persistent_2.250", "us-east-2"): 0.21,
        ("fsx.lustre.persistent_2.500", "us-east-2"): 0.34,
        ("fsx.lustre.persistent_2.1000", "us-east-2"): 0.60,
        ("s3.standard", "us-east-2"): 0.023,  # first 50 TB tier, not 0.022 or 0.021
        ("eks.control_plane", "us-east-2"): 0.10,
        ("kms.key", "us-east-2"): 1.0,
        ("cloudwatch.logs.ingest", "us-east-2"): 0.5,  # custom logs, not the vended-log line
    }
    ec2 = {k: v[0] for k, v in refresh_aws.unit_prices(refresh_aws.items_from_offer_file(load(OFFER))).items()}
    assert ec2 == {("nat.hour", "us-east-1"): 0.045, ("nat.gb", "us-east-1"): 0.045, ("ebs.gp3", "us-east-1"): 0.08}


def test_spot_mean_is_time_weighted_per_zone_then_averaged_over_zones() -> None:
    start, end = refresh_aws.window(7, END)
    means = refresh_aws.spot_means(load(SPOT)["SpotPriceHistory"], "us-east-1", start, end)
    g5 = means["g5.xlarge"]
    # 1a: 0.42 in effect from before the window to 11-25 (3 days), then 0.38 (4 days) -> 0.397143
    # 1b: 0.50 for 7 days (the Windows observation is not Linux/UNIX) -> mean of zones 0.448571
    assert g5.usd == pytest.approx(((0.42 * 3 + 0.38 * 4) / 7 + 0.50) / 2, abs=1e-6)
    assert g5.zones == ("us-east-1a", "us-east-1b") and g5.observations == 3
    assert g5.source.startswith("EC2 DescribeSpotPriceHistory (Linux/UNIX), time-weighted mean over 7 days "
                                "2026-11-22 to 2026-11-29, 3 observations in us-east-1a, us-east-1b")


def test_spot_history_from_moto_goes_through_pagination_and_the_plausibility_guard() -> None:
    start, end = refresh_aws.window(7, END)
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        history = refresh_aws.fetch_spot_history(ec2, ["g5.xlarge", "p5.48xlarge"], start, end)
    assert history and {h["InstanceType"] for h in history} == {"g5.xlarge", "p5.48xlarge"}
    assert all(h["ProductDescription"].startswith("Linux/UNIX") for h in history)
    means = refresh_aws.spot_means(history, "us-east-1", start, end)
    # moto's synthetic $0.00001 is far below 5% of on-demand: the refresh refuses it
    doc = load(DATA / "catalog" / "prices_aws.json")
    _, report = refresh_aws.refresh_aws(doc, refresh_aws.items_from_offer_file(load(OFFER)), "2026-11-29",
                                        spot={"us-east-1": means})
    assert any(i.startswith("spot g5.xlarge us-east-1: mean $1e-05 is outside 5% to 100%") for i in report.ignored)
    assert not [c for c in report.changes if c.column == "spot"]


def test_get_products_pages_are_read_with_the_region_filter() -> None:
    pricing = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    page = load(PRODUCTS)
    with Stubber(pricing) as stub:
        flt = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-2"},
               {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "Storage"}]
        stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": page["PriceList"][:3],
                                           "NextToken": "t1"},
                          {"ServiceCode": "AmazonEFS", "Filters": flt, "FormatVersion": "aws_v1"})
        stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": page["PriceList"][3:]},
                          {"ServiceCode": "AmazonEFS", "Filters": flt, "FormatVersion": "aws_v1", "NextToken": "t1"})
        pages = refresh_aws.fetch_get_products(pricing, "AmazonEFS", "us-east-2", flt[1:])
    assert len(pages) == 2
    assert len(list(refresh_aws.items_from_get_products(pages))) == len(page["PriceList"])


def test_refresh_updates_prices_sources_and_dates_and_keeps_what_the_list_does_not_price(catalog: Path) -> None:
    inputs = RefreshInputs(aws_offer_files=[OFFER, PRODUCTS], aws_spot_files=[SPOT], spot_end=END)
    [report] = refresh(["aws"], inputs, catalog, {"aws": ["us-east-2"]}, as_of="2026-11-29")
    doc = load(catalog / "prices_aws.json")
    rows = {(r["name"], r["region"]): r for r in doc["instances"]}
    g5 = rows[("g5.xlarge", "us-east-1")]
    assert (g5["on_demand"], g5["spot"], g5["as_of"]) == (1.006, 0.448571, "2026-11-29")
    assert g5["source"].startswith("https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/"
                                   "us-east-1/index.json (published 2026-11-20T18:30:27Z")
    assert g5["spot_source"].startswith("EC2 DescribeSpotPriceHistory")
    # the spot mean above on-demand is refused: p5's spot stays as it was
    old = {(r["name"], r["region"]): r for r in load(DATA / "catalog" / "prices_aws.json")["instances"]}
    assert rows[("p5.48xlarge", "us-east-1")]["spot"] == old[("p5.48xlarge", "us-east-1")]["spot"]
    assert any(i.startswith("spot p5.48xlarge us-east-1: mean $60 is outside") for i in report.ignored)
    # a published price replaces the hand-derived note of a row
    assert "note" not in rows[("g5.xlarge", "us-east-1")]
    # a new region the list prices: added with the list's price and no spot price
    added = rows[("g5.xlarge", "us-east-2")]
    assert (added["on_demand"], added["spot"], added["as_of"]) == (1.006, None, "2026-11-29")
    # rows the list does not price are kept as they were, and reported
    assert rows[("g5.xlarge", "us-west-2")]["as_of"] == "2026-11-28"
    assert ("instances", "g5.xlarge", "us-west-2") in report.not_found
    assert ("instances", "p4de.24xlarge", "us-east-1") in report.not_found
    assert report.no_rule == [] and ("units", "kms.key", "us-east-2") in report.added_rows
    spot = next(c for c in report.changes if (c.name, c.region, c.column) == ("g5.xlarge", "us-east-1", "spot"))
    assert (spot.old, spot.new, round(spot.percent or 0, 1)) == (0.4024, 0.448571, 11.5)
    # every row still has a source and a date
    for row in [*doc["instances"], *doc["units"]]:
        assert row["source"] and row["as_of"], row


def test_refreshed_file_is_read_by_the_price_api(catalog: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiinfra.catalog import prices

    refresh(["aws"], RefreshInputs(aws_offer_files=[OFFER, PRODUCTS]), catalog, {"aws": ["us-east-2"]},
            as_of="2026-11-29")
    real = prices.load_json
    monkeypatch.setattr(prices, "load_json",
                        lambda name: load(catalog / name) if name == "prices_aws.json" else real(name))
    prices._rows.cache_clear()
    prices._units.cache_clear()
    try:
        quote = prices.hourly_price("g5.xlarge", "us-east-2")
        assert (quote.hourly_usd, quote.as_of) == (1.006, "2026-11-29")
        assert prices.unit_price("aws.fsx.lustre.persistent_2.125", "us-east-2").usd == 0.145
    finally:
        prices._rows.cache_clear()
        prices._units.cache_clear()


def test_dry_run_changes_nothing_on_disk(catalog: Path) -> None:
    before = (catalog / "prices_aws.json").read_bytes()
    [report] = refresh(["aws"], RefreshInputs(aws_offer_files=[OFFER], aws_spot_files=[SPOT], spot_end=END),
                       catalog, as_of="2026-11-29", write=False)
    assert report.changes and (catalog / "prices_aws.json").read_bytes() == before


def test_bad_inputs_are_clear_errors(catalog: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"products": {}}')
    with pytest.raises(RefreshError, match=r"not an AWS offer file: expected 'products' and 'terms\.OnDemand'"):
        refresh(["aws"], RefreshInputs(aws_offer_files=[bad]), catalog)
    bad.write_text("{nope")
    with pytest.raises(RefreshError, match=r"bad\.json: not JSON"):
        refresh(["aws"], RefreshInputs(aws_offer_files=[bad]), catalog)
    with pytest.raises(RefreshError, match="aws: no price list given"):
        refresh(["aws"], RefreshInputs(), catalog)
    spot = tmp_path / "spot.json"
    spot.write_text('{"SpotPriceHistory": [{"InstanceType": "g5.xlarge"}]}')
    with pytest.raises(RefreshError, match="spot price history entry is missing or has a bad field"):
        refresh(["aws"], RefreshInputs(aws_offer_files=[OFFER], aws_spot_files=[spot]), catalog)


def test_live_path_reads_get_products_per_region_and_spot_per_region(catalog: Path) -> None:
    """The credentialed path: GetProducts per service and region (a fake pricing client answering from the
    recorded excerpt) and DescribeSpotPriceHistory per region (moto)."""
    recorded = load(PRODUCTS)["PriceList"]
    offer = load(OFFER)
    calls: list[tuple[str, str]] = []

    class Paginator:
        def paginate(self, **kwargs: Any) -> list[Any]:  # boto3's keyword names (ServiceCode, Filters, ...)
            service = kwargs["ServiceCode"]
            region = next(f["Value"] for f in kwargs["Filters"] if f["Field"] == "regionCode")
            calls.append((service, region))
            if region == "us-east-1" and service == "AmazonEC2":
                # the bulk file's items as GetProducts would return them
                items = [json.dumps({"product": p, "serviceCode": "AmazonEC2", "publicationDate": "2026-11-20",
                                     "terms": {"OnDemand": offer["terms"]["OnDemand"][sku]}})
                         for sku, p in offer["products"].items()]
                return [{"PriceList": items}]
            return [{"PriceList": [i for i in recorded if json.loads(i)["serviceCode"] == service
                                   and json.loads(i)["product"]["attributes"]["regionCode"] == region]}]

    class Pricing:
        def get_paginator(self, name: str) -> Paginator:
            assert name == "get_products"
            return Paginator()

    with mock_aws():
        session = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")

        class Session:
            def client(self, service: str, region_name: str) -> Any:
                return Pricing() if service == "pricing" else session.client(service, region_name=region_name)

        [report] = refresh(["aws"], RefreshInputs(aws_session=Session(), spot_end=END), catalog,
                           {"aws": ["us-east-2"]}, as_of="2026-11-29", write=False)
    assert {region for _, region in calls} == {"us-east-1", "us-east-2", "us-west-2", "eu-west-1"}
    assert {service for service, _ in calls} == {"AmazonEC2", "AmazonEFS", "AmazonFSx", "AmazonS3", "AmazonEKS",
                                                 "awskms", "AmazonCloudWatch"}
    assert ("instances", "g5.xlarge", "us-east-2") in report.added_rows
    # moto's synthetic spot history reached the guard for every region it answered
    assert any(i.startswith("spot g5.xlarge us-east-1: mean $1e-05") for i in report.ignored)

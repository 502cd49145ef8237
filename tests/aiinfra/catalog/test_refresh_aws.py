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
            # data transfer is read by where it leaves from; every other service by its region
            region = next(f["Value"] for f in kwargs["Filters"] if f["Field"] in ("regionCode", "fromRegionCode"))
            calls.append((service, region))
            if region == "us-east-1" and service == "AmazonEC2":
                # the bulk file's items as GetProducts would return them
                items = [json.dumps({"product": p, "serviceCode": "AmazonEC2", "publicationDate": "2026-11-20",
                                     "terms": {"OnDemand": offer["terms"]["OnDemand"][sku]}})
                         for sku, p in offer["products"].items()]
                return [{"PriceList": items}]
            return [{"PriceList": [i for i in recorded if json.loads(i)["serviceCode"] == service
                                   and json.loads(i)["product"]["attributes"].get("regionCode") == region]}]

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
    # every service a unit rule reads, not a hand-kept subset (backup, data transfer, ECR, ELB, VPC included)
    read = {service for service, _ in calls}
    assert read == {"AmazonEC2"} | {rule.service for rule in refresh_aws.UNIT_RULES.values()}
    assert {"AWSBackup", "AWSDataTransfer", "AmazonECR", "AWSELB", "AmazonVPC"} <= read
    assert ("instances", "g5.xlarge", "us-east-2") in report.added_rows
    # moto's synthetic spot history reached the guard for every region it answered
    assert any(i.startswith("spot g5.xlarge us-east-1: mean $1e-05") for i in report.ignored)


# ----------------------------------------------------------------------------------------
# Every unit key the catalog holds (aws_getproducts_units_excerpt.json: the catalog's own us-east-1
# figures written in the Price List's format and units, plus near-lookalikes; see its "note")
# ----------------------------------------------------------------------------------------

UNITS = DATA / "aws_getproducts_units_excerpt.json"
CATALOG = Path(refresh_aws.__file__).resolve().parents[1] / "data" / "prices_aws.json"

NEW_KEYS = {
    ("backup.efs_warm", "ap-northeast-1"): 0.05,
    ("ebs.gp3.iops", "ap-northeast-1"): 0.005,
    ("ebs.gp3.throughput", "ap-northeast-1"): 0.04,  # $40.96 per GiBps-mo / 1024
    ("ecr.storage", "ap-northeast-1"): 0.10,
    ("efs.elastic_read", "ap-northeast-1"): 0.03,
    ("efs.elastic_write", "ap-northeast-1"): 0.06,
    ("egress.internet", "ap-northeast-1"): 0.09,  # the first paid tier, after the free one
    ("egress.internet", "us-east-1"): 0.09,  # us-east-1: DataTransfer-Out-Bytes without a region prefix
    ("eks.control_plane.extended_support", "ap-northeast-1"): 0.60,  # $0.50 surcharge + $0.10 perCluster
    ("elb.application.hour", "us-east-2"): 0.0225,
    ("elb.application.lcu", "us-east-2"): 0.008,
    ("elb.classic.gb", "us-east-2"): 0.008,
    ("elb.classic.hour", "us-east-2"): 0.025,
    ("elb.network.hour", "us-east-2"): 0.0225,
    ("elb.network.nlcu", "us-east-2"): 0.006,
    ("fsx.lustre.scratch_2", "ap-northeast-1"): 0.14,
    ("s3.put_requests", "us-east-2"): 0.005,  # $0.000005 per request x 1000
    ("vpc.interface_endpoint", "us-east-2"): 0.01,
    ("vpc.public_ipv4", "ap-northeast-1"): 0.005,
}


def unit_items() -> tuple[list[refresh_aws.OfferItem], list[refresh_aws.OfferItem]]:
    """(the products each key is priced from, the lookalikes) of the units excerpt."""
    doc = load(UNITS)
    look = set(doc["lookalikes"])
    pairs = list(zip(doc["PriceList"], refresh_aws.items_from_get_products([doc]), strict=True))
    return ([i for e, i in pairs if json.loads(e)["product"]["sku"] not in look],
            [i for e, i in pairs if json.loads(e)["product"]["sku"] in look])


def test_every_unit_key_of_the_catalog_has_a_rule_in_the_catalogs_unit() -> None:
    units = load(CATALOG)["units"]
    assert {str(r["key"]) for r in units} - set(refresh_aws.UNIT_RULES) == set()
    for row in units:
        rule = refresh_aws.UNIT_RULES[row["key"]]
        assert rule.unit == row["unit"], row
        assert rule.unit in refresh_aws._UNIT_FACTORS, row
        assert not rule.plus or not refresh_aws.UNIT_RULES[rule.plus].plus


def test_each_new_key_is_priced_from_the_list_in_the_catalogs_unit() -> None:
    wanted, _ = unit_items()
    units = {k: v[0] for k, v in refresh_aws.unit_prices(wanted).items()}
    assert units == {**NEW_KEYS, ("eks.control_plane", "ap-northeast-1"): 0.10}
    # the excerpt's prices are the catalog's us-east-1 figures in the list's units: converted, they are equal
    us_east_1 = {r["key"]: r["usd"] for r in load(CATALOG)["units"] if r["region"] == "us-east-1"}
    for (key, _region), usd in units.items():
        assert usd == pytest.approx(us_east_1[key], rel=1e-12), key


def test_lookalikes_are_not_taken() -> None:
    wanted, lookalikes = unit_items()
    assert len(lookalikes) >= 10
    for item in lookalikes:
        taken = [key for key, rule in refresh_aws.UNIT_RULES.items()
                 if item.service == rule.service and rule.family in (None, item.product_family) and rule.match(item)]
        assert taken == [], (item.attributes["usagetype"], taken)
    assert refresh_aws.unit_prices(lookalikes) == {}
    # next to the real products they change nothing (a rule that took one would report two prices)
    assert refresh_aws.unit_prices([*wanted, *lookalikes]) == refresh_aws.unit_prices(wanted)


def test_two_letter_region_prefix_is_only_eu() -> None:
    """us-east-1 ELB lines carry no region prefix: `TS-LoadBalancerUsage` is the ALB trust store, not an hour."""
    hour = refresh_aws.UNIT_RULES["elb.application.hour"].match
    item = next(i for i in unit_items()[1] if i.attributes["usagetype"] == "TS-LoadBalancerUsage")
    assert not hour(item)
    for usagetype in ("LoadBalancerUsage", "USE2-LoadBalancerUsage", "APN1-LoadBalancerUsage", "EU-LoadBalancerUsage"):
        assert hour(refresh_aws.OfferItem("AWSELB", "Load Balancer-Application",
                                          {"usagetype": usagetype, "locationType": "AWS Region"}, (), ""))


def test_a_price_in_a_unit_the_refresh_cannot_convert_stops_it() -> None:
    wanted, _ = unit_items()
    s3 = next(i for i in wanted if i.attributes["usagetype"] == "USE2-Requests-Tier1")
    renamed = refresh_aws.OfferItem(s3.service, s3.product_family, s3.attributes,
                                    ({**s3.dimensions[0], "unit": "GB"},), s3.publication)
    with pytest.raises(RefreshError, match=r"AmazonS3 prices s3\.put_requests in us-east-2 per 'GB' "
                                           r"\(USE2-Requests-Tier1\); the catalog's unit is '1000 requests'"):
        refresh_aws.unit_prices([renamed])


def test_extended_support_is_not_priced_without_the_standard_rate_it_is_added_to() -> None:
    wanted, _ = unit_items()
    eks = [i for i in wanted if i.service == "AmazonEKS"]
    assert {k for k, _ in refresh_aws.unit_prices(eks)} == {"eks.control_plane", "eks.control_plane.extended_support"}
    surcharge_only = [i for i in eks if i.attributes["usagetype"].endswith("extendedSupport")]
    assert refresh_aws.unit_prices(surcharge_only) == {}


def test_refresh_of_the_catalog_adds_every_unit_in_a_region_it_lacked() -> None:
    wanted, lookalikes = unit_items()
    doc = load(CATALOG)
    out, report = refresh_aws.refresh_aws(doc, [*wanted, *lookalikes], "2026-11-29",
                                          regions=["ap-northeast-1", "us-east-2"])
    assert report.no_rule == []
    rows = {(r["key"], r["region"]): r for r in out["units"]}
    for ident, usd in NEW_KEYS.items():
        row = rows[ident]
        assert (row["usd"], row["unit"], row["as_of"]) == (usd, refresh_aws.UNIT_RULES[ident[0]].unit, "2026-11-29")
    scratch = rows[("fsx.lustre.scratch_2", "ap-northeast-1")]
    assert scratch["source"] == ("https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonFSx/current/"
                                 "ap-northeast-1/index.json (published 2026-11-20T18:30:27Z)")
    assert ("units", "backup.efs_warm", "ap-northeast-1") in report.added_rows
    assert ("units", "elb.classic.hour", "us-east-2") in report.added_rows
    # the us-east-1 egress row keeps its figure and its unit note
    egress = rows[("egress.internet", "us-east-1")]
    assert (egress["usd"], egress["note"]) == (0.09, "first 10 TB/month tier")
    assert not [c for c in report.changes if c.column == "usd" and c.old is not None]


def test_get_products_reads_cover_every_rule_and_data_transfer_by_its_source_region() -> None:
    queries = refresh_aws.unit_queries()
    for key, rule in refresh_aws.UNIT_RULES.items():
        assert any(service == rule.service and (not flt or flt[0]["Value"] == rule.family)
                   for service, flt in queries), key
    calls: list[dict[str, Any]] = []

    class Pricing:
        def get_paginator(self, name: str) -> Any:
            class Paginator:
                def paginate(self, **kwargs: Any) -> list[Any]:
                    calls.append(kwargs)
                    return [{"PriceList": []}]
            return Paginator()

    for service, flt in queries:
        refresh_aws.fetch_get_products(Pricing(), service, "ap-northeast-1", flt)
    region_fields = {c["ServiceCode"]: c["Filters"][0]["Field"] for c in calls}
    assert region_fields.pop("AWSDataTransfer") == "fromRegionCode"
    assert set(region_fields.values()) == {"regionCode"}


@pytest.mark.parametrize(("usagetype", "taken"), [
    ("us-east-2-KMS-Keys", True), ("ap-northeast-1-KMS-Keys", True), ("KMS-Keys", True),
    ("us-east-2-KMS-Requests", False), ("us-east-2-KMS-Keys-Extra", False),
])
def test_kms_keys_are_matched_with_the_region_code_prefix_kms_uses(usagetype: str, taken: bool) -> None:
    """KMS usage types carry the region code ("us-east-1-KMS-Keys" in bills and GetProducts filters), not
    the short prefix (USE2-) of the other services: the old rule matched no region's key price."""
    attributes = {"usagetype": usagetype, "regionCode": "us-east-2"}
    item = refresh_aws.OfferItem("awskms", "Encryption Key", attributes, (), "")
    assert refresh_aws.UNIT_RULES["kms.key"].match(item) is taken

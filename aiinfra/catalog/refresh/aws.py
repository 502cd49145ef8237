"""AWS prices from AWS's own price lists: the Price List (offer files or pricing:GetProducts) and spot history.

Two shapes of the same offer data are read:

- a bulk offer file (`https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<service>/current/<region>/index.json`):
  `{"publicationDate", "products": {sku: {"productFamily", "attributes"}}, "terms": {"OnDemand": {sku: {...}}}}`;
- `pricing:GetProducts` (boto3): `{"PriceList": ["{\"product\": {...}, \"terms\": {\"OnDemand\": {...}}}", ...]}`.

In both, an on-demand term is `{offerTermCode: {"priceDimensions": {rateCode: {"unit", "beginRange",
"pricePerUnit": {"USD": "1.0060000000"}}}}}`. Spot prices come from `ec2:DescribeSpotPriceHistory`
(Linux/UNIX), averaged over a recorded window: time-weighted per Availability Zone, then the
mean of the zones. Everything here is read-only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiinfra.catalog.refresh.model import Found, RefreshError, RefreshReport, merge_rows

__all__ = [
    "OfferItem",
    "SpotMean",
    "instance_prices",
    "items_from_get_products",
    "items_from_offer_file",
    "refresh_aws",
    "spot_means",
    "unit_prices",
]

OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{service}/current/{region}/index.json"
PRICING_API = "AWS Price List API (pricing:GetProducts, {service})"
SPOT_PRODUCT = "Linux/UNIX"
SPOT_FLOOR = 0.05
"""A spot mean below 5% of on-demand is refused as implausible (it would be a data error)."""

# Units this refresh derives, and how each is recognised in an offer (service, product family,
# attribute tests, as Infracost's price filters recognise them). `usagetype` carries a region
# prefix (`USE2-`), which some services omit in us-east-1.
_PREFIX = r"(?:[A-Z]{2,4}\d?-)?"


@dataclass(frozen=True)
class OfferItem:
    """One product with its on-demand price dimensions."""

    service: str
    product_family: str
    attributes: Mapping[str, str]
    dimensions: tuple[Mapping[str, Any], ...]
    publication: str

    @property
    def region(self) -> str:
        return self.attributes.get("regionCode", "")

    def first_tier_usd(self) -> float | None:
        """The USD price of the first tier (beginRange 0), or of the only dimension."""
        dims = sorted(self.dimensions, key=lambda d: float(d.get("beginRange", "0") or 0))
        for dim in dims:
            usd = dim.get("pricePerUnit", {}).get("USD")
            if usd is None:
                continue
            try:
                value = float(usd)
            except ValueError:
                raise RefreshError(f"{self.service} price {usd!r} is not a number "
                                   f"({self.attributes.get('usagetype', '?')})") from None
            return value
        return None


def _dimensions(on_demand: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    return tuple(dim for term in on_demand.values() for dim in term.get("priceDimensions", {}).values())


def items_from_offer_file(doc: Mapping[str, Any], region: str = "") -> Iterator[OfferItem]:
    """Products of a bulk offer file with their on-demand terms; `region` fills a missing regionCode."""
    try:
        products = doc["products"]
        terms = doc["terms"]["OnDemand"]
    except (KeyError, TypeError):
        raise RefreshError("not an AWS offer file: expected 'products' and 'terms.OnDemand'") from None
    service = str(doc.get("offerCode", ""))
    publication = str(doc.get("publicationDate", ""))
    for sku, product in products.items():
        on_demand = terms.get(sku)
        if not on_demand:
            continue
        attrs = dict(product.get("attributes", {}))
        if region and not attrs.get("regionCode"):
            attrs["regionCode"] = region
        yield OfferItem(attrs.get("servicecode", service), product.get("productFamily", ""), attrs,
                        _dimensions(on_demand), publication)


def items_from_get_products(pages: Iterable[Mapping[str, Any]]) -> Iterator[OfferItem]:
    """Products of `pricing:GetProducts` responses (each PriceList entry is a JSON string)."""
    for page in pages:
        for entry in page.get("PriceList", []):
            try:
                item = json.loads(entry) if isinstance(entry, str) else entry
                product = item["product"]
            except (ValueError, KeyError, TypeError):
                raise RefreshError("pricing:GetProducts returned an entry that is not a price-list item") from None
            on_demand = item.get("terms", {}).get("OnDemand", {})
            if not on_demand:
                continue
            attrs = dict(product.get("attributes", {}))
            yield OfferItem(item.get("serviceCode", attrs.get("servicecode", "")), product.get("productFamily", ""),
                            attrs, _dimensions(on_demand), str(item.get("publicationDate", "")))


# ----------------------------------------------------------------------------------------
# EC2 instances
# ----------------------------------------------------------------------------------------

_LINUX_SHARED = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}


def instance_prices(items: Iterable[OfferItem], names: set[str]) -> dict[tuple[str, str], tuple[float, str]]:
    """(instance type, region) -> (on-demand $/h, publication date) for Linux, shared tenancy, no licence."""
    out: dict[tuple[str, str], tuple[float, str]] = {}
    for item in items:
        a = item.attributes
        if item.product_family != "Compute Instance" or a.get("instanceType") not in names:
            continue
        if any(a.get(k) != v for k, v in _LINUX_SHARED.items()):
            continue
        if a.get("licenseModel", "No License required") != "No License required":
            continue
        usd = item.first_tier_usd()
        if usd is None or usd <= 0:
            continue
        out[(a["instanceType"], item.region)] = (usd, item.publication)
    return out


# ----------------------------------------------------------------------------------------
# Units (storage, network, control plane)
# ----------------------------------------------------------------------------------------


def _ut(pattern: str) -> Callable[[OfferItem], bool]:
    rx = re.compile(_PREFIX + pattern)
    return lambda item: bool(rx.fullmatch(item.attributes.get("usagetype", "")))


def _fsx(throughput: int) -> Callable[[OfferItem], bool]:
    def match(item: OfferItem) -> bool:
        a = item.attributes
        return (a.get("fileSystemType") == "Lustre" and a.get("storageType") == "SSD"
                and a.get("throughputCapacity") == str(throughput) and "Backup" not in a.get("usagetype", ""))
    return match


# key -> (service, product family, matcher, unit the catalog row states)
UNIT_RULES: dict[str, tuple[str, str, Callable[[OfferItem], bool], str]] = {
    "efs.standard": ("AmazonEFS", "Storage", _ut(r"TimedStorage-ByteHrs"), "GB-month"),
    "efs.infrequent_access": ("AmazonEFS", "Storage", _ut(r"IATimedStorage-ByteHrs"), "GB-month"),
    "efs.provisioned_throughput": ("AmazonEFS", "Provisioned Throughput", _ut(r"ProvisionedTP-MiBpsHrs"),
                                   "MiBps-month"),
    **{f"fsx.lustre.persistent_2.{t}": ("AmazonFSx", "Storage", _fsx(t), "GB-month") for t in (125, 250, 500, 1000)},
    "s3.standard": ("AmazonS3", "Storage",
                    lambda i: i.attributes.get("volumeType") == "Standard" and _ut(r"TimedStorage-ByteHrs")(i),
                    "GB-month"),
    "ebs.gp3": ("AmazonEC2", "Storage", _ut(r"EBS:VolumeUsage\.gp3"), "GB-month"),
    "nat.hour": ("AmazonEC2", "NAT Gateway", _ut(r"NatGateway-Hours"), "hour"),
    "nat.gb": ("AmazonEC2", "NAT Gateway", _ut(r"NatGateway-Bytes"), "GB processed"),
    "eks.control_plane": ("AmazonEKS", "Compute", _ut(r"AmazonEKS-Hours:perCluster"), "hour"),
    "kms.key": ("awskms", "Encryption Key", _ut(r"KMS-Keys"), "key-month"),
    "cloudwatch.logs.ingest": ("AmazonCloudWatch", "Data Payload", _ut(r"DataProcessing-Bytes"), "GB"),
}


def unit_prices(items: Iterable[OfferItem]) -> dict[tuple[str, str], tuple[float, str, str]]:
    """(unit key, region) -> (USD, service, publication) for every rule in `UNIT_RULES` that matches."""
    out: dict[tuple[str, str], tuple[float, str, str]] = {}
    for item in items:
        for key, (service, family, match, _unit) in UNIT_RULES.items():
            if item.service != service or item.product_family != family or not match(item):
                continue
            usd = item.first_tier_usd()
            if usd is None:
                continue
            ident = (key, item.region)
            if ident in out and out[ident][0] != usd:
                raise RefreshError(f"{service} offer has two prices for {key} in {item.region} "
                                   f"({out[ident][0]} and {usd}); the matching rule is too loose")
            out[ident] = (usd, service, item.publication)
    return out


# ----------------------------------------------------------------------------------------
# Spot
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpotMean:
    instance_type: str
    region: str
    usd: float
    observations: int
    zones: tuple[str, ...]
    start: datetime
    end: datetime

    @property
    def source(self) -> str:
        days = (self.end - self.start).total_seconds() / 86400
        return (f"EC2 DescribeSpotPriceHistory ({SPOT_PRODUCT}), time-weighted mean over {days:g} days "
                f"{self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}, {self.observations} observations in "
                f"{', '.join(self.zones)}")


def spot_means(history: Iterable[Mapping[str, Any]], region: str, start: datetime,
               end: datetime) -> dict[str, SpotMean]:
    """Instance type -> time-weighted mean spot price over [start, end], averaged over the zones.

    Each observation holds from its timestamp until the zone's next one; one from before
    `start` (the API returns the price in effect at the start) counts from `start`.
    """
    if end <= start:
        raise RefreshError(f"spot window ends ({end}) before it starts ({start})")
    by_zone: dict[tuple[str, str], list[tuple[datetime, float]]] = {}
    for obs in history:
        try:
            itype = str(obs["InstanceType"])
            zone = str(obs["AvailabilityZone"])
            price = float(obs["SpotPrice"])
            stamp = obs["Timestamp"]
        except (KeyError, TypeError, ValueError):
            raise RefreshError(f"spot price history entry is missing or has a bad field: {dict(obs)!r}") from None
        if not str(obs.get("ProductDescription", SPOT_PRODUCT)).startswith(SPOT_PRODUCT):
            continue
        if isinstance(stamp, str):
            stamp = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        by_zone.setdefault((itype, zone), []).append((stamp, price))
    per_type: dict[str, list[tuple[str, float, int]]] = {}
    for (itype, zone), points in by_zone.items():
        points.sort()
        weighted = 0.0
        for i, (stamp, price) in enumerate(points):
            begin = max(stamp, start)
            until = min(points[i + 1][0] if i + 1 < len(points) else end, end)
            if until > begin:
                weighted += price * (until - begin).total_seconds()
        span = (end - max(points[0][0], start)).total_seconds()
        if span <= 0:
            continue
        per_type.setdefault(itype, []).append((zone, weighted / span, len(points)))
    out: dict[str, SpotMean] = {}
    for itype, zones in per_type.items():
        mean = sum(z[1] for z in zones) / len(zones)
        out[itype] = SpotMean(itype, region, round(mean, 6), sum(z[2] for z in zones),
                              tuple(sorted(z[0] for z in zones)), start, end)
    return out


def fetch_spot_history(ec2: Any, instance_types: list[str], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """All Linux/UNIX spot observations for the types in the window (paginated, read-only)."""
    out: list[dict[str, Any]] = []
    paginator = ec2.get_paginator("describe_spot_price_history")
    for chunk in range(0, len(instance_types), 50):
        for page in paginator.paginate(InstanceTypes=instance_types[chunk:chunk + 50],
                                       ProductDescriptions=[SPOT_PRODUCT], StartTime=start, EndTime=end):
            out.extend(page.get("SpotPriceHistory", []))
    return out


def fetch_get_products(pricing: Any, service: str, region: str,
                       filters: list[dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """`pricing:GetProducts` pages for one service in one region (the Price List API lives in us-east-1)."""
    flt = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}, *(filters or [])]
    paginator = pricing.get_paginator("get_products")
    return list(paginator.paginate(ServiceCode=service, Filters=flt, FormatVersion="aws_v1"))


def window(days: float, end: datetime | None = None) -> tuple[datetime, datetime]:
    """The spot averaging window ending now (or at `end`), `days` long."""
    stop = (end or datetime.now(UTC)).replace(microsecond=0)
    return stop - timedelta(days=days), stop


# ----------------------------------------------------------------------------------------
# The refresh of prices_aws.json
# ----------------------------------------------------------------------------------------


def refresh_aws(doc: Mapping[str, Any], items: Iterable[OfferItem], as_of: str, regions: Iterable[str] = (),
                spot: Mapping[str, Mapping[str, SpotMean]] | None = None) -> tuple[dict[str, Any], RefreshReport]:
    """`prices_aws.json` with on-demand, spot and unit prices from the price lists; and what changed.

    `regions` adds rows for every catalog instance type and unit the price list prices there;
    `spot` is region -> instance type -> mean (None: spot prices are left as they are).
    """
    report = RefreshReport("aws", as_of)
    items = list(items)
    names = {str(r["name"]) for r in doc["instances"]}
    od = instance_prices(items, names)
    spot = spot or {}
    found: dict[tuple[str, str], Found] = {}
    for (name, region), (usd, publication) in od.items():
        values: dict[str, float | None] = {"on_demand": usd}
        mean = spot.get(region, {}).get(name)
        spot_source = ""
        if mean is not None:
            if mean.usd < SPOT_FLOOR * usd or mean.usd > usd:
                report.ignored.append(f"spot {name} {region}: mean ${mean.usd:g} is outside {SPOT_FLOOR:.0%} to "
                                      f"100% of on-demand ${usd:g}; spot price kept")
            else:
                values["spot"] = mean.usd
                spot_source = mean.source
        found[(name, region)] = Found(values, f"{OFFER_URL.format(service='AmazonEC2', region=region)} "
                                              f"(published {publication or 'unknown'}; Linux, shared tenancy)",
                                      spot_source)
    all_regions = sorted({str(r["region"]) for r in doc["instances"]} | set(regions))
    instances = merge_rows(report, "instances", list(doc["instances"]), "name", found,
                           lambda _: {"on_demand": None, "spot": None, "source": "", "spot_source": "", "as_of": ""},
                           [(n, r) for n in sorted(names) for r in all_regions])
    units_found = {ident: Found({"usd": usd}, f"{OFFER_URL.format(service=service, region=ident[1])} "
                                              f"(published {publication or 'unknown'})")
                   for ident, (usd, service, publication) in unit_prices(items).items()}
    unit_keys = sorted({str(r["key"]) for r in doc["units"]} & set(UNIT_RULES))
    units = merge_rows(report, "units", list(doc["units"]), "key", units_found,
                       lambda ident: {"usd": None, "unit": UNIT_RULES[ident[0]][3], "source": "", "as_of": ""},
                       [(k, r) for k in unit_keys for r in all_regions])
    report.not_found = [nf for nf in report.not_found if nf[0] != "units" or nf[1] in UNIT_RULES]
    report.no_rule = sorted({str(r["key"]) for r in doc["units"]} - set(UNIT_RULES))
    report.sources = sorted({f.source.split(" (")[0] for f in (*found.values(), *units_found.values())})
    out = dict(doc)
    out["instances"] = instances
    out["units"] = units
    return out, report

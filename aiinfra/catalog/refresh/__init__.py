"""Regenerate the catalog's price files from the clouds' own price lists.

`aiinfra catalog refresh` reads the AWS Price List (offer files or `pricing:GetProducts`),
`ec2:DescribeSpotPriceHistory` averaged over a recorded window, and the Google Cloud Billing
Catalog API, and rewrites `data/prices_aws.json` and `data/prices_gcp.json` in their own
format: a row takes the list's price, `source` and the refresh date only where the list
prices it; every other row is kept and reported. The inputs can be live (read-only
credentials) or recorded files, which is how the tests and a dry run on a laptop work.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiinfra.catalog.refresh import aws, gcp
from aiinfra.catalog.refresh.model import RefreshError, RefreshReport, dump, render_markdown, render_table

__all__ = [
    "DATA_DIR",
    "RefreshError",
    "RefreshInputs",
    "RefreshReport",
    "refresh",
    "render_markdown",
    "render_table",
]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
FILES = {"aws": "prices_aws.json", "gcp": "prices_gcp.json"}


@dataclass
class RefreshInputs:
    """Where the prices come from: recorded files, or live clients (None: that input is not used)."""

    aws_offer_files: list[Path] = field(default_factory=list)
    """Bulk offer files or saved GetProducts responses (`{"PriceList": [...]}`)."""
    aws_spot_files: list[Path] = field(default_factory=list)
    """Saved DescribeSpotPriceHistory responses; the region is each entry's AZ minus its letter."""
    gcp_sku_files: list[Path] = field(default_factory=list)
    aws_session: Any = None
    """A boto3 Session for live AWS reads (pricing in us-east-1, ec2 per region)."""
    gcp_token: str | None = None
    gcp_http: Any = None
    """A requests.Session for live Cloud Billing Catalog reads."""
    spot_days: float = 7.0
    spot_end: datetime | None = None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RefreshError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RefreshError(f"{path}: not JSON ({exc})") from None


def _aws_items(inputs: RefreshInputs, regions: Sequence[str]) -> list[aws.OfferItem]:
    items: list[aws.OfferItem] = []
    for path in inputs.aws_offer_files:
        doc = _read_json(path)
        if isinstance(doc, dict) and "PriceList" in doc:
            items += aws.items_from_get_products([doc])
        else:
            items += aws.items_from_offer_file(doc)
    if inputs.aws_session is not None:
        pricing = inputs.aws_session.client("pricing", region_name="us-east-1")
        compute = [{"Type": "TERM_MATCH", "Field": f, "Value": v} for f, v in
                   (("productFamily", "Compute Instance"), ("operatingSystem", "Linux"), ("tenancy", "Shared"),
                    ("preInstalledSw", "NA"), ("capacitystatus", "Used"))]
        for region in regions:
            pages = aws.fetch_get_products(pricing, "AmazonEC2", region, compute)
            for service, flt in aws.unit_queries():  # what every unit rule looks at, one read per service/family
                pages += aws.fetch_get_products(pricing, service, region, flt)
            items += aws.items_from_get_products(pages)
    return items


def _aws_spot(inputs: RefreshInputs, names: list[str], regions: Sequence[str]) -> dict[str, dict[str, aws.SpotMean]]:
    start, end = aws.window(inputs.spot_days, inputs.spot_end)
    by_region: dict[str, list[dict[str, Any]]] = {}
    for path in inputs.aws_spot_files:
        doc = _read_json(path)
        history = doc.get("SpotPriceHistory") if isinstance(doc, dict) else None
        if not isinstance(history, list):
            raise RefreshError(f"{path}: not a DescribeSpotPriceHistory response (no 'SpotPriceHistory' list)")
        for obs in history:
            zone = str(obs.get("AvailabilityZone", ""))
            by_region.setdefault(zone[:-1], []).append(obs)
    if inputs.aws_session is not None:
        for region in regions:
            ec2 = inputs.aws_session.client("ec2", region_name=region)
            by_region.setdefault(region, []).extend(aws.fetch_spot_history(ec2, names, start, end))
    return {region: aws.spot_means(obs, region, start, end) for region, obs in by_region.items()}


def _gcp_skus(inputs: RefreshInputs, report_errors: list[str]) -> list[gcp.Sku]:
    pages: list[Any] = [_read_json(p) for p in inputs.gcp_sku_files]
    if inputs.gcp_http is not None and inputs.gcp_token:
        for service in gcp.SERVICES:
            try:
                pages += gcp.fetch_skus(inputs.gcp_http, service, inputs.gcp_token)
            except RefreshError as exc:
                if service == gcp.COMPUTE_ENGINE:
                    raise
                report_errors.append(str(exc))
    return list(gcp.parse_skus(pages))


def refresh(clouds: Sequence[str], inputs: RefreshInputs, data_dir: Path = DATA_DIR,
            regions: dict[str, Sequence[str]] | None = None, as_of: str | None = None,
            write: bool = True) -> list[RefreshReport]:
    """Refresh the price files of `clouds`; write them unless `write` is False; return what changed.

    `regions` (cloud -> regions) adds rows in regions the catalog does not list yet.
    """
    regions = regions or {}
    try:
        return _refresh(clouds, inputs, data_dir, regions, as_of, write)
    except RefreshError:
        raise
    except Exception as exc:
        # Network and API failures of the live reads (botocore, requests, google-auth) end as one message.
        if type(exc).__module__.split(".")[0] in ("botocore", "boto3", "requests", "urllib3", "google"):
            raise RefreshError(f"price list read failed: {type(exc).__name__}: {exc}") from None
        raise


def _refresh(clouds: Sequence[str], inputs: RefreshInputs, data_dir: Path, regions: dict[str, Sequence[str]],
             as_of: str | None, write: bool) -> list[RefreshReport]:
    date = as_of or datetime.now(UTC).strftime("%Y-%m-%d")
    reports: list[RefreshReport] = []
    for cloud in clouds:
        path = data_dir / FILES[cloud]
        doc = _read_json(path)
        if cloud == "aws":
            if not (inputs.aws_offer_files or inputs.aws_session is not None):
                raise RefreshError("aws: no price list given; pass --aws-offer FILE or run with AWS credentials")
            extra = list(regions.get("aws", ()))
            wanted = sorted({str(r["region"]) for r in doc["instances"]} | set(extra))
            items = _aws_items(inputs, wanted)
            names = sorted({str(r["name"]) for r in doc["instances"]})
            spot = _aws_spot(inputs, names, wanted) if (inputs.aws_spot_files or inputs.aws_session) else None
            new, report = aws.refresh_aws(doc, items, date, extra, spot)
        else:
            if not (inputs.gcp_sku_files or inputs.gcp_token):
                raise RefreshError("gcp: no SKU list given; pass --gcp-skus FILE or run with Google credentials")
            errors: list[str] = []
            skus = _gcp_skus(inputs, errors)
            machines = _read_json(data_dir / "gcp_machines.json")
            shapes = [*machines.get("machine_types", []), *machines.get("n1_machine_types", [])]
            new, report = gcp.refresh_gcp(doc, shapes, skus, date, regions.get("gcp", ()))
            report.ignored += errors
        if write and (report.changes or report.added_rows):
            path.write_text(dump(new), encoding="utf-8")
        reports.append(report)
    return reports

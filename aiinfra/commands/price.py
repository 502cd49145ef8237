"""`aiinfra price NAME --region REGION [--spot]`: what one instance type, GPU or TPU slice costs per hour."""

from __future__ import annotations

import argparse
import json

from aiinfra.catalog.prices import Market, PriceError, hourly_price
from aiinfra.commands.common import fail


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("price", help="hourly list price of an instance/machine type, GPU or TPU type")
    p.add_argument("name", help="e.g. p5.48xlarge, a3-highgpu-8g, nvidia-tesla-t4, v5p-128")
    p.add_argument("--region", required=True, help="e.g. us-east-1, us-central1")
    market = p.add_mutually_exclusive_group()
    market.add_argument("--spot", action="store_true", help="the spot price instead of on-demand")
    market.add_argument("--commit", choices=("1y", "3y"), help="TPU committed-use price")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    market = Market.SPOT if args.spot else Market(f"commit-{args.commit}") if args.commit else Market.ON_DEMAND
    try:
        quote = hourly_price(args.name, args.region, market)
    except PriceError as exc:
        return fail(str(exc))
    if args.format == "json":
        print(json.dumps(quote.to_json()))
    else:
        print(f"{quote.name} in {quote.region}, {quote.market}: ${quote.hourly_usd:,.4f} per {quote.unit}\n"
              f"  ${quote.hourly_usd * 730:,.2f} per month (730 h)\n  source: {quote.source} (as of {quote.as_of})")
    return 0

"""`aiinfra catalog refresh`: regenerate the price files from the clouds' own price lists and show what changed.

Live (the weekly workflow): AWS through read-only credentials (pricing:GetProducts,
ec2:DescribeSpotPriceHistory), Google through a token with cloud-billing.readonly.
Offline: recorded offer files, spot histories and SKU lists (`--aws-offer`, `--aws-spot`,
`--gcp-skus`). `--dry-run` prints the diff and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiinfra.catalog.refresh import DATA_DIR, RefreshError, RefreshInputs, refresh, render_markdown, render_table
from aiinfra.commands.common import fail, finite_float

CLOUDS = ("aws", "gcp")
_REGION = re.compile(r"[a-z]{2,}(?:-[a-z]+)+-?\d")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("catalog", help="maintain the price catalog (refresh from the clouds' price lists)",
                              description="Maintain the price catalog in aiinfra/catalog/data.")
    sub = p.add_subparsers(dest="catalog_command", required=True, metavar="SUBCOMMAND")
    r = sub.add_parser(
        "refresh", help="regenerate prices_aws.json and prices_gcp.json from the clouds' price lists",
        description="Regenerate the price files from the AWS Price List, EC2 spot price history and the Google "
                    "Cloud Billing Catalog, keep every row's source and date, and print what changed. Without "
                    "recorded inputs it reads the live APIs with the ambient read-only credentials.")
    r.add_argument("--cloud", action="append", choices=CLOUDS, help="only this cloud (repeatable; default both)")
    r.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    r.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    r.add_argument("--summary-file", type=Path, help="also write the markdown diff here (a pull-request body)")
    r.add_argument("--aws-offer", action="append", type=Path, default=[], metavar="FILE",
                   help="recorded AWS offer file or GetProducts response (repeatable; no live AWS reads)")
    r.add_argument("--aws-spot", action="append", type=Path, default=[], metavar="FILE",
                   help="recorded DescribeSpotPriceHistory response (repeatable)")
    r.add_argument("--gcp-skus", action="append", type=Path, default=[], metavar="FILE",
                   help="recorded Cloud Billing Catalog SKU list page (repeatable; no live Google reads)")
    r.add_argument("--aws-region", action="append", default=[], metavar="REGION",
                   help="also price the catalog's AWS types in this region (repeatable)")
    r.add_argument("--gcp-region", action="append", default=[], metavar="REGION",
                   help="also price the catalog's GCP types in this region (repeatable)")
    r.add_argument("--spot-days", type=finite_float, default=7.0, help="spot averaging window in days (default 7)")
    r.add_argument("--spot-end", help="end of the spot window, ISO 8601 UTC (default now)")
    r.add_argument("--as-of", help="date written into refreshed rows (default today, UTC)")
    r.add_argument("--data-dir", type=Path, default=DATA_DIR, help="catalog data folder (default the package's)")
    r.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    problems = _check(args)
    if problems:
        return fail("\nerror: ".join(problems))
    clouds = tuple(args.cloud or CLOUDS)
    try:
        inputs = _inputs(args, clouds)
        reports = refresh(clouds, inputs, args.data_dir, {"aws": args.aws_region, "gcp": args.gcp_region},
                          args.as_of, write=not args.dry_run)
    except RefreshError as exc:
        return fail(str(exc))
    if args.summary_file is not None:
        try:
            args.summary_file.write_text(render_markdown(reports, args.dry_run) + "\n", encoding="utf-8")
        except OSError as exc:
            return fail(f"--summary-file {args.summary_file}: cannot be written ({exc.strerror or exc})")
    if args.format == "json":
        print(json.dumps({"dry_run": args.dry_run, "reports": [r.to_json() for r in reports]}, indent=2))
    elif args.format == "markdown":
        print(render_markdown(reports, args.dry_run))
    else:
        print(render_table(reports, args.dry_run))
    return 0


def _check(args: argparse.Namespace) -> list[str]:
    p: list[str] = []
    if not 0 < args.spot_days <= 90:
        p.append(f"--spot-days: {args.spot_days:g} is not allowed; expected more than 0 and at most 90 "
                 "(DescribeSpotPriceHistory keeps 90 days)")
    for flag, values in (("--aws-region", args.aws_region), ("--gcp-region", args.gcp_region)):
        for value in values:
            if not _REGION.fullmatch(value):
                p.append(f"{flag}: {value!r} is not a region name (e.g. us-east-2, europe-west4)")
    for flag in ("spot_end", "as_of"):
        value = getattr(args, flag)
        if value is not None:
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                p.append(f"--{flag.replace('_', '-')}: {value!r} is not an ISO 8601 date (e.g. 2026-11-29)")
    if not args.data_dir.is_dir():
        p.append(f"--data-dir: {args.data_dir} is not a folder")
    for flag, paths in (("--aws-offer", args.aws_offer), ("--aws-spot", args.aws_spot),
                        ("--gcp-skus", args.gcp_skus)):
        for path in paths:
            if not path.is_file():
                p.append(f"{flag}: {path} is not a file")
    return p


def _inputs(args: argparse.Namespace, clouds: tuple[str, ...]) -> RefreshInputs:
    end = None
    if args.spot_end:
        end = datetime.fromisoformat(args.spot_end.replace("Z", "+00:00"))
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
    inputs = RefreshInputs(aws_offer_files=args.aws_offer, aws_spot_files=args.aws_spot,
                           gcp_sku_files=args.gcp_skus, spot_days=args.spot_days, spot_end=end)
    if "aws" in clouds and not args.aws_offer:
        inputs.aws_session = _aws_session()
    if "gcp" in clouds and not args.gcp_skus:
        inputs.gcp_token, inputs.gcp_http = _gcp_token()
    return inputs


def _aws_session() -> Any:
    import boto3
    import botocore.exceptions

    session = boto3.Session()
    try:
        if session.get_credentials() is None:
            raise RefreshError("aws: no credentials; configure read-only credentials (AWS_PROFILE, SSO or OIDC) "
                               "or pass --aws-offer FILE")
    except botocore.exceptions.BotoCoreError as exc:
        raise RefreshError(f"aws: credentials cannot be loaded: {exc}") from None
    return session


def _gcp_token() -> tuple[str, Any]:
    import google.auth
    import google.auth.exceptions
    import requests
    from google.auth.transport.requests import Request

    try:
        creds, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-billing.readonly"])
        creds.refresh(Request())
    except google.auth.exceptions.GoogleAuthError as exc:
        raise RefreshError(f"gcp: no usable credentials ({exc}); configure Workload Identity Federation or "
                           "application default credentials, or pass --gcp-skus FILE") from None
    return str(creds.token), requests.Session()

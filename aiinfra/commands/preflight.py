"""`aiinfra preflight`: read-only AWS or GCP checks before `pulumi up`; exit 1 when something would fail."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aiinfra.commands.common import PlanError, ProjectError, fail, fail_json, resolve_root
from aiinfra.offline import StackConfig, load_stack_config
from aiinfra.preflight import (
    AwsClients,
    GcpApi,
    PreflightError,
    Report,
    RestApi,
    cloud_of,
    preflight_gcp_stack,
    preflight_stack,
)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "preflight",
        help="check with AWS or GCP (read-only) that a stack's machine/TPU types, quotas, reservations or Capacity "
             "Blocks and names are available")
    p.add_argument("--stack", "-s", required=True, help="stack name (stacks/Pulumi.<name>.yaml)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value for this check, e.g. gpuGroups[0].maxSize=8 (repeatable)")
    p.add_argument("--capacity-block-hours", type=int, default=24,
                   help="AWS: duration to look for Capacity Block offerings (24..336 by 24, then by 168); default 24")
    p.add_argument("--profile", default=None, help="AWS profile (default: the usual credential chain); GCP stacks use "
                                                    "Application Default Credentials")
    p.add_argument("--project-dir", type=Path, default=None, help="project root (default: nearest Pulumi.yaml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, clients: AwsClients | None = None, gcp: GcpApi | None = None) -> int:
    """`clients` and `gcp` are the test seams; the CLI builds them from the stack and the credential chain."""
    try:
        root = resolve_root(args.project_dir)
        cfg = load_stack_config(root, args.stack, args.overrides)
        if cloud_of(cfg) == "gcp":
            report = _gcp(cfg, gcp)
        else:
            report = _aws(cfg, args, clients)
    except (ProjectError, PlanError, PreflightError) as exc:
        return fail_json(exc, {"stack": args.stack}) if args.format == "json" else fail(exc)
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.render_table())
    return 1 if report.failed else 0


def _aws(cfg: StackConfig, args: argparse.Namespace, clients: AwsClients | None) -> Report:
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        if clients is None:
            region = cfg.values.get("aws:region")
            session = boto3.Session(region_name=region if isinstance(region, str) else None,
                                    profile_name=args.profile)
            clients = AwsClients.from_session(session)
        return preflight_stack(cfg, clients, args.capacity_block_hours)
    except BotoCoreError as exc:
        raise PreflightError(f"AWS: {exc}") from None


def _gcp(cfg: StackConfig, api: GcpApi | None) -> Report:
    import google.auth.exceptions
    import requests

    try:
        return preflight_gcp_stack(cfg, api or RestApi.from_default_credentials())
    except google.auth.exceptions.GoogleAuthError as exc:
        raise PreflightError(f"cannot reach GCP: {exc}; configure Application Default Credentials (gcloud auth "
                             "application-default login, or Workload Identity in CI)") from None
    except requests.RequestException as exc:
        raise PreflightError(f"cannot reach GCP: {exc}") from None

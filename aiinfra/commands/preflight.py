"""`aiinfra preflight`: read-only AWS checks before `pulumi up`; exit 1 when something would fail."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aiinfra.commands.common import PlanError, ProjectError, fail, project_root
from aiinfra.offline import load_stack_config
from aiinfra.preflight import AwsClients, PreflightError, preflight_stack


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "preflight",
        help="check with AWS (read-only) that a stack's instances, quotas, Capacity Blocks and names are available")
    p.add_argument("--stack", "-s", required=True, help="stack name (stacks/Pulumi.<name>.yaml)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value for this check, e.g. gpuGroups[0].maxSize=8 (repeatable)")
    p.add_argument("--capacity-block-hours", type=int, default=24,
                   help="duration to look for Capacity Block offerings (24..336 by 24, then by 168); default 24")
    p.add_argument("--profile", default=None, help="AWS profile (default: the usual credential chain)")
    p.add_argument("--project-dir", type=Path, default=None, help="project root (default: nearest Pulumi.yaml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, clients: AwsClients | None = None) -> int:
    """`clients` is the test seam; the CLI builds them from the stack's region and the credential chain."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        root = args.project_dir.resolve() if args.project_dir else project_root()
        cfg = load_stack_config(root, args.stack, args.overrides)
        if clients is None:
            region = cfg.values.get("aws:region")
            session = boto3.Session(region_name=region if isinstance(region, str) else None,
                                    profile_name=args.profile)
            clients = AwsClients.from_session(session)
        report = preflight_stack(cfg, clients, args.capacity_block_hours)
    except (ProjectError, PlanError, PreflightError) as exc:
        return fail(str(exc))
    except BotoCoreError as exc:
        return fail(f"AWS: {exc}")
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.render_table())
    return 1 if report.failed else 0

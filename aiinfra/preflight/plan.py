"""Plan a stack offline, but with the region's real availability zones, then run the checks on it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pulumi
from botocore.exceptions import BotoCoreError, ClientError

from aiinfra.offline import Plan, StackConfig, run_plan
from aiinfra.offline.mocks import GCP_PROJECT, PlanMocks
from aiinfra.preflight.checks import CAPACITY_BLOCK_HOURS, AwsClients, Report, available_zones, run_checks
from aiinfra.preflight.gcp import GcpApi, GcpApiError, gcp_needs, run_gcp_checks
from aiinfra.preflight.requirements import stack_needs

_ZONES_TOKEN = "aws:index/getAvailabilityZones:getAvailabilityZones"


class PreflightError(Exception):
    """Preflight cannot run (wrong cloud, no credentials, bad option): exit 2, clean message."""


class _RealZoneMocks(PlanMocks):
    """The offline mocks, except that the zone look-up answers with the region's real zones,
    so the plan's subnets sit in the zones `pulumi up` would pick."""

    def __init__(self, region: str, zones: list[str]) -> None:
        super().__init__(region=region, gcp_project=GCP_PROJECT)
        self.zones = zones

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == _ZONES_TOKEN:
            return {"id": self.region, "names": list(self.zones), "zoneIds": list(self.zones),
                    "groupNames": [self.region] * len(self.zones), "state": "available",
                    "region": self.region}, []
        return super().call(args)


def cloud_of(cfg: StackConfig) -> str:
    cloud = cfg.values.get(f"{cfg.project}:cloud") or "aws"
    if cloud not in ("aws", "gcp"):
        raise PreflightError(f"stack {cfg.stack!r}: cloud {cloud!r} is not one preflight knows; allowed: aws, gcp")
    return str(cloud)


def region_of(cfg: StackConfig) -> str:
    if cloud_of(cfg) != "aws":
        raise PreflightError(f"stack {cfg.stack!r} is on 'gcp'; the AWS checks do not apply (preflight_gcp_stack "
                             "runs the GCP checks, as `aiinfra preflight` does)")
    region = cfg.values.get("aws:region")
    if not isinstance(region, str) or not region:
        raise PreflightError(f"stack {cfg.stack!r} sets no aws:region")
    return region


def plan_with_zones(cfg: StackConfig, zones: list[str]) -> Plan:
    return run_plan(cfg, mocks=_RealZoneMocks(region_of(cfg), zones))


def preflight_stack(cfg: StackConfig, clients: AwsClients, capacity_block_hours: int = 24,
                    now: dt.datetime | None = None) -> Report:
    """Plan `cfg` against the region's real zones and run every check. Raises PreflightError,
    PlanError (invalid config) or ProjectError."""
    if capacity_block_hours not in CAPACITY_BLOCK_HOURS:
        raise PreflightError(f"--capacity-block-hours {capacity_block_hours} is not a Capacity Block duration; "
                             "allowed 24 to 336 in steps of 24, then 504 to 4368 in steps of 168")
    region_of(cfg)
    try:
        zones = available_zones(clients.ec2)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise PreflightError(f"cannot list availability zones: {err.get('Code')}: {err.get('Message')}") from None
    except BotoCoreError as exc:
        raise PreflightError(f"cannot reach AWS: {exc}; configure credentials (AWS_PROFILE, SSO or OIDC)") from None
    plan = plan_with_zones(cfg, zones)
    return run_checks(stack_needs(plan), clients, capacity_block_hours, now)


def preflight_gcp_stack(cfg: StackConfig, api: GcpApi) -> Report:
    """Plan `cfg` offline and check it against the Compute Engine and Cloud TPU APIs. Raises
    PreflightError (no project or region, unreadable region), PlanError or ProjectError."""
    if cloud_of(cfg) != "gcp":
        raise PreflightError(f"stack {cfg.stack!r} is not a GCP stack")
    project, region = cfg.values.get("gcp:project"), cfg.values.get("gcp:region")
    for key, value in (("gcp:project", project), ("gcp:region", region)):
        if not isinstance(value, str) or not value:
            raise PreflightError(f"stack {cfg.stack!r} sets no {key}")
    plan = run_plan(cfg)
    try:
        return run_gcp_checks(gcp_needs(plan), api)
    except GcpApiError as exc:
        hint = {401: "; configure Application Default Credentials (gcloud auth application-default login, or "
                     "Workload Identity in CI)",
                403: f"; the credentials need compute.regions.get (read-only) on project {project}",
                404: f"; is {project!r} the project id and {region!r} a region?"}.get(exc.status, "")
        raise PreflightError(f"cannot read region {region} of project {project}: {exc}{hint}") from None

"""Read-only AWS checks that answer, before `pulumi up`, whether a stack's request can be met.

Each check calls real AWS APIs through boto3 clients handed in (`AwsClients`, the seam
tests use for moto and botocore's Stubber) and returns findings: ok, warn or fail, each
failure saying what to request or change. Nothing here creates or modifies anything.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from aiinfra.catalog import aws_instance_type
from aiinfra.preflight.quotas import SERVICE_CODE, Quota, quota_table
from aiinfra.preflight.requirements import BucketNeed, GroupNeed, StackNeeds

# Capacity Blocks last 1-14 days in 1-day steps, then up to 182 days in 7-day steps.
CAPACITY_BLOCK_HOURS = tuple(range(24, 14 * 24 + 1, 24)) + tuple(range(21 * 24, 182 * 24 + 1, 7 * 24))
_USABLE_RESERVATION_STATES = ("active", "scheduled", "payment-pending")


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    check: str
    """offering | quota | capacity-block | bucket"""
    subject: str
    status: Status
    detail: str
    fix: str = ""
    """What to request or change (failures and warnings)."""

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "subject": self.subject, "status": self.status.value,
                "detail": self.detail, "fix": self.fix}


@dataclass
class Report:
    stack: str
    region: str
    findings: list[Finding] = field(default_factory=list)
    api: str = "AWS"
    """Whose APIs the checks called (AWS or GCP), for the heading."""

    @property
    def failed(self) -> bool:
        return any(f.status is Status.FAIL for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "cloud": self.api.lower(), "region": self.region, "ok": not self.failed,
                "findings": [f.to_json() for f in self.findings]}

    def render_table(self) -> str:
        rows = [("STATUS", "CHECK", "SUBJECT", "DETAIL")]
        rows += [(f.status.value.upper(), f.check, f.subject, f.detail) for f in self.findings]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"Preflight for stack {self.stack!r} in {self.region} (read-only {self.api} calls)", ""]
        lines += [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip() for r in rows]
        todo = [f for f in self.findings if f.fix and f.status is not Status.OK]
        if todo:
            lines += ["", "To fix:"]
            lines += [f"  - [{f.check}] {f.subject}: {f.fix}" for f in todo]
        fails = sum(f.status is Status.FAIL for f in self.findings)
        warns = sum(f.status is Status.WARN for f in self.findings)
        lines += ["", f"{len(self.findings)} checks: {fails} failed, {warns} warnings."
                      + (" `pulumi up` would fail." if fails else "")]
        return "\n".join(lines)


@dataclass(frozen=True)
class AwsClients:
    """boto3 clients for one region. `capacity` serves the Capacity Block / reservation APIs
    (the same EC2 client in production; a stubbed one in tests, where moto lacks those APIs)."""

    ec2: Any
    quotas: Any
    s3: Any
    capacity: Any = None

    @classmethod
    def from_session(cls, session: Any) -> AwsClients:
        ec2 = session.client("ec2")
        return cls(ec2=ec2, quotas=session.client("service-quotas"), s3=session.client("s3"), capacity=ec2)

    @property
    def capacity_ec2(self) -> Any:
        return self.capacity if self.capacity is not None else self.ec2


def available_zones(ec2: Any) -> list[str]:
    """The region's available zones in name order, as the program's zone look-up returns them."""
    resp = ec2.describe_availability_zones(Filters=[{"Name": "state", "Values": ["available"]}])
    return sorted(z["ZoneName"] for z in resp["AvailabilityZones"]
                  if z.get("ZoneType", "availability-zone") == "availability-zone")


def run_checks(needs: StackNeeds, clients: AwsClients, capacity_block_hours: int = 24,
               now: dt.datetime | None = None) -> Report:
    report = Report(stack=needs.stack, region=needs.region)
    report.findings += check_offerings(needs.groups, clients.ec2)
    report.findings += check_quotas(needs, clients.quotas)
    report.findings += check_capacity_blocks(needs.groups, clients.capacity_ec2, capacity_block_hours,
                                             now or dt.datetime.now(dt.UTC))
    report.findings += check_buckets(needs.buckets, clients.s3)
    return report


# -- instance type offerings ----------------------------------------------------------------


def offered_zones(ec2: Any, instance_types: Iterable[str]) -> dict[str, set[str]]:
    types = sorted(set(instance_types))
    offered: dict[str, set[str]] = {t: set() for t in types}
    if not types:
        return offered
    pages = ec2.get_paginator("describe_instance_type_offerings").paginate(
        LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": types}])
    for page in pages:
        for o in page["InstanceTypeOfferings"]:
            offered.setdefault(o["InstanceType"], set()).add(o["Location"])
    return offered


def check_offerings(groups: Iterable[GroupNeed], ec2: Any) -> list[Finding]:
    groups = list(groups)
    try:
        offered = offered_zones(ec2, [t for g in groups for t in g.instance_types])
    except ClientError as exc:
        return [_api_failure("offering", "describe_instance_type_offerings", exc, "ec2:DescribeInstanceTypeOfferings")]
    findings = []
    for g in groups:
        for t in g.instance_types:
            subject = f"{g.name} {t}"
            where = offered.get(t, set())
            missing = [z for z in g.zones if z not in where]
            elsewhere = ", ".join(sorted(where)) or "no zone of this region"
            if not missing:
                findings.append(Finding("offering", subject, Status.OK, f"offered in {', '.join(g.zones)}"))
            elif len(missing) == len(g.zones):
                findings.append(Finding(
                    "offering", subject, Status.FAIL,
                    f"not offered in the group's zones {', '.join(g.zones)} (offered in: {elsewhere})",
                    f"choose an instance type offered in {', '.join(g.zones)}, or a region where {t} is offered "
                    f"in the first zones the network uses"))
            else:
                findings.append(Finding(
                    "offering", subject, Status.WARN,
                    f"not offered in {', '.join(missing)}; the group launches it only in "
                    f"{', '.join(z for z in g.zones if z in where)}",
                    f"expect {t} capacity from {', '.join(z for z in g.zones if z in where)} only, or add an "
                    f"alternative type offered in {', '.join(missing)}"))
    return findings


# -- vCPU quotas ------------------------------------------------------------------------------


def _vcpus(instance_type: str) -> int:
    facts = aws_instance_type(instance_type)
    if facts is None:
        raise ValueError(f"{instance_type!r} is not in the instance catalog (aiinfra/catalog/data/aws_instances.json)")
    return facts.vcpu


def vcpu_demand(groups: Iterable[GroupNeed]) -> dict[Quota, int]:
    """vCPUs each quota must cover with every group at max size (the largest type of a group, worst case)."""
    table = quota_table()
    demand: dict[Quota, int] = {}
    for g in groups:
        if not g.instance_types:
            continue
        biggest = max(g.instance_types, key=_vcpus)
        per = _vcpus(biggest)
        for spot, count in ((False, g.on_demand_max), (True, g.spot_max)):
            if count:
                q = table.for_instance_type(biggest, spot)
                demand[q] = demand.get(q, 0) + count * per
    return demand


def quota_value(quotas: Any, code: str) -> float:
    """The applied quota value; the AWS default where the account never changed it."""
    try:
        return float(quotas.get_service_quota(ServiceCode=SERVICE_CODE, QuotaCode=code)["Quota"]["Value"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchResourceException":
            raise
    return float(quotas.get_aws_default_service_quota(ServiceCode=SERVICE_CODE, QuotaCode=code)["Quota"]["Value"])


def check_quotas(needs: StackNeeds, quotas: Any) -> list[Finding]:
    findings = []
    for q, need in sorted(vcpu_demand(needs.groups).items(), key=lambda kv: kv[0].code):
        subject = f"{q.code} {q.name}"
        try:
            have = quota_value(quotas, q.code)
        except ClientError as exc:
            findings.append(_api_failure("quota", subject, exc, "servicequotas:GetServiceQuota"))
            continue
        if need > have:
            findings.append(Finding(
                "quota", subject, Status.FAIL, f"needs {need} vCPUs at max size, quota is {have:g}",
                f"request at least {need} vCPUs: aws service-quotas request-service-quota-increase "
                f"--service-code {SERVICE_CODE} --quota-code {q.code} --desired-value {need} --region {needs.region}"
                f" (or lower maxSize)"))
        else:
            findings.append(Finding("quota", subject, Status.OK, f"needs {need} vCPUs at max size, quota is {have:g}"))
    return findings


# -- Capacity Blocks ------------------------------------------------------------------------------


def check_capacity_blocks(groups: Iterable[GroupNeed], ec2: Any, hours: int, now: dt.datetime) -> list[Finding]:
    findings = []
    for g in groups:
        if not g.capacity_block:
            continue
        subject = f"{g.name} {g.capacity_reservation_id}"
        itype = g.instance_types[0] if g.instance_types else ""
        try:
            reservation = _reservation(ec2, g.capacity_reservation_id)
        except ClientError as exc:
            findings.append(_api_failure("capacity-block", subject, exc, "ec2:DescribeCapacityReservations"))
            continue
        problems = _reservation_problems(reservation, g, itype, now) if reservation else ["not found in this region"]
        if not problems:
            end = reservation.get("EndDate") if reservation else None
            findings.append(Finding("capacity-block", subject, Status.OK,
                                    f"{reservation['TotalInstanceCount']} x {itype} in "  # type: ignore[index]
                                    f"{reservation['AvailabilityZone']}, {reservation['State']}"  # type: ignore[index]
                                    + (f" until {_iso(end)}" if end else "")))
            continue
        try:
            offers = _offerings(ec2, itype, g.max_size, hours, g.zones)
        except ClientError as exc:
            findings.append(_api_failure("capacity-block", subject, exc, "ec2:DescribeCapacityBlockOfferings"))
            continue
        detail = "; ".join(problems)
        if offers:
            best = offers[0]
            fix = (f"buy a block: aws ec2 purchase-capacity-block --capacity-block-offering-id "
                   f"{best['CapacityBlockOfferingId']} --instance-platform Linux/UNIX (earliest of {len(offers)}: "
                   f"{best['InstanceCount']} x {itype} in {best['AvailabilityZone']} from {_iso(best['StartDate'])} "
                   f"for {best['CapacityBlockDurationHours']} h, {best['UpfrontFee']} {best['CurrencyCode']}), "
                   f"then set capacityReservationId to the new reservation id")
        else:
            fix = (f"no Capacity Block offerings for {g.max_size} x {itype} for {hours} h in {', '.join(g.zones)}; "
                   f"try a smaller maxSize, another duration (--capacity-block-hours) or another region")
        findings.append(Finding("capacity-block", subject, Status.FAIL, detail, fix))
    return findings


def _reservation(ec2: Any, rid: str) -> dict[str, Any] | None:
    try:
        resp = ec2.describe_capacity_reservations(CapacityReservationIds=[rid])
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("InvalidCapacityReservationId.NotFound",
                                             "InvalidCapacityReservationId.Malformed"):
            return None
        raise
    found = resp.get("CapacityReservations") or []
    return found[0] if found else None


def _reservation_problems(r: dict[str, Any], g: GroupNeed, itype: str, now: dt.datetime) -> list[str]:
    problems = []
    if r.get("InstanceType") != itype:
        problems.append(f"reserves {r.get('InstanceType')}, the group launches {itype}")
    if int(r.get("TotalInstanceCount", 0)) < g.max_size:
        problems.append(f"holds {r.get('TotalInstanceCount')} instances, maxSize is {g.max_size}")
    if r.get("State") not in _USABLE_RESERVATION_STATES:
        problems.append(f"is {r.get('State')}")
    if g.zones and r.get("AvailabilityZone") not in g.zones:
        problems.append(f"is in {r.get('AvailabilityZone')}, the group's subnets are in {', '.join(g.zones)}")
    end = r.get("EndDate")
    if isinstance(end, dt.datetime) and end <= now:
        problems.append(f"ended {_iso(end)}")
    return problems


def _offerings(ec2: Any, itype: str, count: int, hours: int, zones: tuple[str, ...]) -> list[dict[str, Any]]:
    resp = ec2.describe_capacity_block_offerings(InstanceType=itype, InstanceCount=count,
                                                 CapacityDurationHours=hours)
    offers = [o for o in resp.get("CapacityBlockOfferings") or [] if not zones or o["AvailabilityZone"] in zones]
    return sorted(offers, key=lambda o: o["StartDate"])


# -- bucket names -----------------------------------------------------------------------------------


def check_buckets(buckets: Iterable[BucketNeed], s3: Any) -> list[Finding]:
    findings = []
    for b in buckets:
        if not b.bucket:
            findings.append(Finding("bucket", b.logical_name, Status.OK,
                                    "auto-named by Pulumi with a random suffix; the name cannot collide"))
            continue
        try:
            s3.head_bucket(Bucket=b.bucket)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in ("404", "NoSuchBucket", "NotFound"):
                findings.append(Finding("bucket", b.bucket, Status.OK, "name is free"))
            elif code in ("403", "AccessDenied", "Forbidden"):
                findings.append(Finding("bucket", b.bucket, Status.FAIL,
                                        "name is taken by another AWS account (bucket names are global)",
                                        "choose another bucket name, or leave it unset so Pulumi auto-names it"))
            else:
                findings.append(_api_failure("bucket", b.bucket, exc, "s3:ListBucket"))
            continue
        findings.append(Finding("bucket", b.bucket, Status.WARN, "already exists in this account",
                                "fine if this stack already manages it; otherwise `pulumi import` it or rename"))
    return findings


# -- helpers -------------------------------------------------------------------------------------------


def _api_failure(check: str, subject: str, exc: ClientError, permission: str) -> Finding:
    err = exc.response.get("Error", {})
    detail = f"AWS call failed: {err.get('Code')}: {err.get('Message', '')}".rstrip(": ")
    return Finding(check, subject, Status.FAIL, detail,
                   f"run with credentials allowed {permission} (read-only) in this region")


def _iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")
    return str(value)


def report_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2)

"""What a stack will ask of AWS, read from its offline plan (the program's own resolved resources).

`aiinfra` never imports `components`: instead of re-parsing the config, preflight runs the
real program under the mock engine and reads the captured Auto Scaling groups, launch
templates, subnets and buckets. The plan is what `pulumi up` would create, so the two
cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from aiinfra.offline import Plan, PlannedResource

ASG = "aws:autoscaling/group:Group"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SUBNET = "aws:ec2/subnet:Subnet"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")


@dataclass(frozen=True)
class GroupNeed:
    """One GPU Auto Scaling group at its maximum size."""

    name: str
    """The group's name in the stack (the component name without the `<project>-<stack>-` prefix)."""
    instance_types: tuple[str, ...]
    max_size: int
    on_demand_max: int
    """Most instances that can run on-demand at max size."""
    spot_max: int
    """Most instances that can run as spot at max size."""
    zones: tuple[str, ...]
    """Availability zones of the group's subnets."""
    capacity_reservation_id: str = ""
    capacity_block: bool = False


@dataclass(frozen=True)
class BucketNeed:
    logical_name: str
    bucket: str
    """The fixed bucket name, or '' when Pulumi auto-names it."""
    prefix: str = ""


@dataclass(frozen=True)
class StackNeeds:
    stack: str
    region: str
    groups: tuple[GroupNeed, ...]
    buckets: tuple[BucketNeed, ...]


def purchase_split(max_size: int, base: int, pct_above_base: int) -> tuple[int, int]:
    """Upper bounds on (on-demand, spot) instances at `max_size`.

    The ASG keeps `base` on-demand, then `pct_above_base` percent of the rest on-demand. AWS
    rounds the split; each bound here rounds its own way up so a quota check never comes short.
    """
    base = min(base, max_size)
    above = max_size - base
    on_demand = base + math.ceil(above * pct_above_base / 100)
    spot = above - math.floor(above * pct_above_base / 100)
    return on_demand, spot


def stack_needs(plan: Plan) -> StackNeeds:
    """Collect the GPU groups and buckets from a plan (pure: no AWS calls)."""
    prefix = f"{plan.project}-{plan.stack}-"
    by_urn = {r.urn: r for r in plan.resources}
    subnets = {_rid(r): r for r in plan.resources if r.type == SUBNET}
    groups = []
    for asg in (r for r in plan.resources if r.type == ASG):
        groups.append(_group(asg, by_urn, subnets, plan.resources, prefix))
    buckets = []
    for b in (r for r in plan.resources if r.type in BUCKETS):
        name = b.inputs.get("bucket")
        buckets.append(BucketNeed(logical_name=b.name, bucket=name if isinstance(name, str) else "",
                                  prefix=str(b.inputs.get("bucketPrefix") or "")))
    region = str(plan.config.get("aws:region") or "")
    return StackNeeds(stack=plan.stack, region=region, groups=tuple(groups), buckets=tuple(buckets))


def _rid(r: PlannedResource) -> str:
    return str(r.id or r.outputs.get("id") or "")


def _group(asg: PlannedResource, by_urn: dict[str, PlannedResource], subnets: dict[str, PlannedResource],
           resources: list[PlannedResource], prefix: str) -> GroupNeed:
    parent = by_urn.get(asg.parent or "")
    label = parent.name if parent is not None and not parent.custom else asg.name
    label = label[len(prefix):] if label.startswith(prefix) else label
    siblings = [r for r in resources if r.parent == asg.parent and r.type == LAUNCH_TEMPLATE]
    template = siblings[0].inputs if siblings else {}

    max_size = int(asg.inputs.get("maxSize") or 0)
    mixed = asg.inputs.get("mixedInstancesPolicy")
    if isinstance(mixed, dict):
        overrides = (mixed.get("launchTemplate") or {}).get("overrides") or []
        types = tuple(o["instanceType"] for o in overrides if isinstance(o, dict) and o.get("instanceType"))
        dist: dict[str, Any] = mixed.get("instancesDistribution") or {}
        on_demand, spot = purchase_split(max_size, int(dist.get("onDemandBaseCapacity") or 0),
                                         int(dist.get("onDemandPercentageAboveBaseCapacity", 100)))
    else:
        itype = template.get("instanceType")
        types = (itype,) if isinstance(itype, str) else ()
        on_demand, spot = max_size, 0

    reservation = ((template.get("capacityReservationSpecification") or {})
                   .get("capacityReservationTarget") or {}).get("capacityReservationId") or ""
    block = (template.get("instanceMarketOptions") or {}).get("marketType") == "capacity-block"

    zones: list[str] = []
    for sid in asg.inputs.get("vpcZoneIdentifiers") or []:
        subnet = subnets.get(str(sid))
        az = subnet.inputs.get("availabilityZone") if subnet is not None else None
        if isinstance(az, str) and az not in zones:
            zones.append(az)
    return GroupNeed(name=label, instance_types=types, max_size=max_size, on_demand_max=on_demand,
                     spot_max=spot, zones=tuple(zones), capacity_reservation_id=str(reservation),
                     capacity_block=bool(block))

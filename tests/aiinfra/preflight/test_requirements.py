"""Reading a stack's GPU groups and buckets from its offline plan (no AWS)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from aiinfra.offline import Plan
from aiinfra.preflight import GroupNeed, purchase_split, stack_needs


@pytest.mark.parametrize(("max_size", "base", "pct", "expected"), [
    (4, 0, 100, (4, 0)),     # on-demand
    (4, 0, 0, (0, 4)),       # spot
    (4, 0, 25, (1, 3)),      # exact split
    (5, 1, 50, (3, 2)),      # 1 + 2 on-demand; 2 spot
    (3, 0, 50, (2, 2)),      # 1.5 rounds up on both sides: each bound must cover AWS's rounding
    (2, 5, 0, (2, 0)),       # base above max is capped at max
])
def test_purchase_split_bounds_each_side(max_size: int, base: int, pct: int, expected: tuple[int, int]) -> None:
    assert purchase_split(max_size, base, pct) == expected


def test_prod_groups_are_read_from_the_plan(plan_stack: Callable[..., Plan]) -> None:
    needs = stack_needs(plan_stack("prod"))
    assert needs.region == "us-east-1"
    by_name = {g.name: g for g in needs.groups}
    assert by_name["train-h100"] == GroupNeed(name="train-h100", instance_types=("p5.48xlarge",), max_size=8,
                                              on_demand_max=8, spot_max=0, zones=("us-east-1a",))
    # mixed: base 1 on-demand, 0 percent above: the other instance is spot.
    assert (by_name["eval-h100"].on_demand_max, by_name["eval-h100"].spot_max) == (1, 1)
    assert [b.bucket for b in needs.buckets] == [""]  # auto-named


def test_staging_group_sits_in_its_placement_groups_zone(plan_stack: Callable[..., Plan]) -> None:
    # `enhanced` packs the group in a cluster placement group, which lives in one AZ (cloud rule
    # aws.cluster_placement_group_azs): the group takes that AZ's subnet only.
    (group,) = stack_needs(plan_stack("staging")).groups
    assert group.instance_types == ("g6e.12xlarge", "g6e.24xlarge")
    assert group.zones == ("us-east-1a",)
    assert (group.on_demand_max, group.spot_max) == (1, 3)


def test_capacity_block_group_carries_its_reservation(plan_values: Callable[..., Plan]) -> None:
    plan = plan_values(gpuGroups=[{"name": "blk", "instanceType": "p5.48xlarge", "minSize": 0, "maxSize": 2,
                                   "capacityReservationId": "cr-0123456789abcdef0", "capacityBlock": True}])
    (group,) = stack_needs(plan).groups
    assert group.instance_types == ("p5.48xlarge",)
    assert group.capacity_reservation_id == "cr-0123456789abcdef0"
    assert group.capacity_block is True
    assert (group.on_demand_max, group.spot_max) == (2, 0)

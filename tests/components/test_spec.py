"""Config validation: every bad config gets an exact message naming key path, value and what is allowed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.errors import ConfigError
from components.network.tiers import Tier
from components.spec import Environment, Purchase, parse_spec

BASE: dict[str, Any] = {
    "aws:region": "us-east-1",
    "environment": "dev",
    "tags": {"team": "ml", "cost-center": "cc-1"},
    "network": {"cidr": "10.0.0.0/16", "azCount": 2, "tier": "standard"},
    "gpuGroups": [{"name": "g1", "instanceType": "g6.xlarge", "purchase": "spot", "minSize": 0,
                   "desiredCapacity": 1, "maxSize": 2}],
}


def with_group(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(BASE)
    values["gpuGroups"][0].update(changes)
    return values


def with_top(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(BASE)
    values.update(changes)
    return values


def with_network(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(BASE)
    values["network"].update(changes)
    return values


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in BASE.items() if k != key}


def duplicate_group() -> dict[str, Any]:
    values = copy.deepcopy(BASE)
    values["gpuGroups"].append(dict(values["gpuGroups"][0]))
    return values


def prod_with_schedule() -> dict[str, Any]:
    values = with_group(schedule={})
    values["environment"] = "prod"
    return values


BAD_CONFIGS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("unknown instance type with suggestion", with_group(instanceType="p5.48xl"),
     ["gpuGroups[0].instanceType: 'p5.48xl' is not a known GPU instance type; did you mean 'p5.48xlarge'?"]),
    ("environment outside the vocabulary", with_top(environment="production"),
     ["environment: 'production' is not allowed; expected one of dev, staging, prod; did you mean 'prod'?"]),
    ("region missing", without("aws:region"),
     ["aws:region: is required for cloud 'aws'; set it with `pulumi config set aws:region <region>`"]),
    ("region malformed", with_top(**{"aws:region": "useast1"}),
     ["aws:region: 'useast1' is not a region name such as 'us-east-1'"]),
    ("required cost tag missing", with_top(tags={"team": "ml"}),
     ["tags.cost-center: is required (every resource is tagged with it for cost allocation)"]),
    ("environment tag set by hand", with_top(tags={"team": "ml", "cost-center": "c", "environment": "x"}),
     ["tags.environment: is set from `environment`; remove it from tags"]),
    ("tier typo", with_network(tier="ultr"),
     ["network.tier: 'ultr' is not allowed; expected one of standard, enhanced, ultra; did you mean 'ultra'?"]),
    ("cidr with host bits", with_network(cidr="10.0.0.1/16"),
     ["network.cidr: '10.0.0.1/16' has host bits set; expected a network such as '10.0.0.0/16'"]),
    ("cidr too small", with_network(cidr="10.0.0.0/24"),
     ["network.cidr: '10.0.0.0/24' has prefix /24; allowed /16 to /20 (room for private, public and GPU subnets)"]),
    ("cidr not private", with_network(cidr="8.0.0.0/16"),
     ["network.cidr: '8.0.0.0/16' is not a private (RFC 1918) range; use e.g. '10.0.0.0/16'"]),
    ("peered cidr overlaps the vpc", with_network(peeredCidrs=["10.0.128.0/20"]),
     ["network.peeredCidrs[0]: '10.0.128.0/20' overlaps network.cidr '10.0.0.0/16'; "
      "peered networks need disjoint ranges"]),
    ("peered cidrs overlap each other", with_network(peeredCidrs=["10.1.0.0/16", "10.1.128.0/17"]),
     ["network.peeredCidrs[1]: '10.1.128.0/17' overlaps network.peeredCidrs[0] '10.1.0.0/16'"]),
    ("az count out of range", with_network(azCount=7),
     ["network.azCount: 7 is out of range; allowed 2..4"]),
    ("sizes out of order", with_group(minSize=3, desiredCapacity=2, maxSize=4),
     ["gpuGroups[0]: minSize 3, desiredCapacity 2, maxSize 4 are out of order; "
      "need minSize <= desiredCapacity <= maxSize"]),
    ("spot-only group with on-demand base", with_group(onDemandBaseCapacity=1),
     ["gpuGroups[0].onDemandBaseCapacity: 1 contradicts purchase 'spot' (spot-only groups have no on-demand "
      "base); set it to 0 or use purchase 'mixed'"]),
    ("on-demand group with a spot share", with_group(purchase="on-demand", onDemandPercentageAboveBase=50),
     ["gpuGroups[0].onDemandPercentageAboveBase: 50 contradicts purchase 'on-demand' (100 percent); "
      "use purchase 'mixed' for a spot share"]),
    ("efa on a type without it", with_group(efa=True),
     ["gpuGroups[0].efa: true, but 'g6.xlarge' has no EFA support; use an EFA-capable type such as "
      "'g6.12xlarge' or set efa: false"]),
    ("ultra tier with a type without efa", with_network(tier="ultra"),
     ["gpuGroups[0].instanceType: 'g6.xlarge' has no EFA, which network.tier 'ultra' requires; choose an "
      "EFA-capable type (with the same GPU: g6.12xlarge, g6.16xlarge, g6.24xlarge) or tier 'enhanced'"]),
    ("alternative type with other gpus", with_group(extraInstanceTypes=["g6.12xlarge"]),
     ["gpuGroups[0].extraInstanceTypes[0]: 'g6.12xlarge' has 4 x l4, but 'g6.xlarge' has 1 x l4; "
      "alternatives must offer the same GPUs"]),
    ("alternative type unknown", with_group(extraInstanceTypes=["g6.xlarg"]),
     ["gpuGroups[0].extraInstanceTypes[0]: 'g6.xlarg' is not a known GPU instance type; did you mean 'g6.xlarge'?"]),
    ("duplicate group names", duplicate_group(),
     ["gpuGroups[1].name: 'g1' is already used by gpuGroups[0]; names must be unique"]),
    ("group name not dns-safe", with_group(name="GPU_1"),
     ["gpuGroups[0].name: 'GPU_1' is not allowed; use 1-24 lowercase letters, digits and '-', starting with a letter"]),
    ("misspelt key", with_group(maxsize=3),
     ["gpuGroups[0].maxsize: unknown key; did you mean 'maxSize'?"]),
    ("root volume too small", with_group(rootVolumeGib=20),
     ["gpuGroups[0].rootVolumeGib: 20 is out of range; allowed 75..16384 (GiB)"]),
    ("reservation id malformed", with_group(purchase="on-demand", capacityReservationId="res-1"),
     ["gpuGroups[0].capacityReservationId: 'res-1' is not a capacity reservation id such as "
      "'cr-0123456789abcdef0'"]),
    ("spot group targeting a reservation", with_group(capacityReservationId="cr-0123456789abcdef0"),
     ["gpuGroups[0].purchase: 'spot' cannot target a capacity reservation; reserved capacity is on-demand only"]),
    ("capacity block without its id", with_group(purchase="on-demand", capacityBlock=True),
     ["gpuGroups[0].capacityBlock: true needs capacityReservationId (the id of the purchased Capacity Block)"]),
    ("capacity-block-only type bought on demand", with_group(instanceType="p5e.48xlarge", purchase="on-demand"),
     ["gpuGroups[0].instanceType: 'p5e.48xlarge' is sold only through EC2 Capacity Blocks; "
      "set capacityBlock: true and capacityReservationId"]),
    ("schedule in prod", prod_with_schedule(),
     ["gpuGroups[0].schedule: scale-to-zero schedules are for non-prod stacks; prod capacity follows its sizes"]),
    ("schedule time and zone malformed", with_group(schedule={"start": "8am", "timezone": "Mars/Base"}),
     ["gpuGroups[0].schedule.start: '8am' is not a time of day; expected 'HH:MM' (24 h)",
      "gpuGroups[0].schedule.timezone: 'Mars/Base' is not an IANA time zone such as 'Europe/Berlin' or 'UTC'"]),
    ("schedule days malformed", with_group(schedule={"days": "weekdays"}),
     ["gpuGroups[0].schedule.days: 'weekdays' is not a day list; expected e.g. 'MON-FRI', 'MON,WED,FRI' or '*'"]),
    ("provisioned efs without throughput", with_top(storage={"efs": {"throughputMode": "provisioned"}}),
     ["storage.efs.provisionedMibps: is required (1..10240 MiB/s) when throughputMode is 'provisioned'"]),
    ("efs lifecycle not an allowed step", with_top(storage={"efs": {"transitionToIaDays": 45}}),
     ["storage.efs.transitionToIaDays: 45 is not allowed; expected one of 1, 7, 14, 30, 60, 90, 180, 270, 365"]),
    ("lustre capacity not a valid size", with_top(storage={"fsxLustre": {"enabled": True, "storageCapacityGib": 3000}}),
     ["storage.fsxLustre.storageCapacityGib: 3000 is not allowed; FSx for Lustre takes 1200 or a multiple "
      "of 2400 GiB"]),
    ("lustre throughput not offered", with_top(storage={"fsxLustre": {"perUnitStorageThroughput": 200}}),
     ["storage.fsxLustre.perUnitStorageThroughput: 200 is not allowed for PERSISTENT_2; expected one of "
      "125, 250, 500, 1000 (MB/s per TiB)"]),
    ("count not a number", with_group(maxSize="lots"),
     ["gpuGroups[0].maxSize: expected an integer, got 'lots'"]),
    ("boolean as a word", with_network(flowLogs="yes"),
     ["network.flowLogs: expected true or false, got 'yes'"]),
    ("groups given as a mapping", with_top(gpuGroups={"name": "x"}),
     ["gpuGroups: expected a list, got {'name': 'x'}"]),
]


@pytest.mark.parametrize(("case", "values", "expected"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_gets_exact_message(case: str, values: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec(values, "ai-infra", "test")
    assert info.value.problems == expected


def test_at_least_twenty_distinct_bad_configs_are_covered() -> None:
    assert len({tuple(c[2]) for c in BAD_CONFIGS}) >= 20


def test_every_problem_is_reported_at_once() -> None:
    values = with_group(instanceType="p5.48xl", minSize=5, maxSize=1)
    values["network"]["tier"] = "fast"
    values["tags"] = {}
    with pytest.raises(ConfigError) as info:
        parse_spec(values, "ai-infra", "test")
    paths = [p.split(":")[0] for p in info.value.problems]
    assert paths == ["tags.team", "tags.cost-center", "network.tier", "gpuGroups[0].instanceType", "gpuGroups[0]"]
    assert str(info.value).startswith("invalid stack configuration (5 problems):\n  - tags.team: is required")


def test_valid_config_parses_into_typed_frozen_models() -> None:
    spec = parse_spec(BASE, "ai-infra", "dev")
    assert spec.environment is Environment.DEV
    assert spec.network.tier is Tier.STANDARD
    group = spec.gpu_groups[0]
    assert (group.purchase, group.on_demand_percentage_above_base, group.on_demand_base_capacity) == (
        Purchase.SPOT, 0, 0)
    assert spec.tags == {"environment": "dev", "team": "ml", "cost-center": "cc-1"}
    assert not spec.protect_data
    with pytest.raises(AttributeError):
        spec.region = "eu-west-1"  # type: ignore[misc]


def test_ultra_defaults_efa_on_for_capable_types() -> None:
    values = with_network(tier="ultra")
    values["gpuGroups"][0].update(instanceType="p5.48xlarge", purchase="on-demand")
    spec = parse_spec(values, "ai-infra", "prod")
    assert spec.gpu_groups[0].efa is True


def test_prod_protects_data() -> None:
    spec = parse_spec(with_top(environment="prod"), "ai-infra", "prod")
    assert spec.protect_data


def test_cli_style_string_values_are_accepted() -> None:
    # `--set gpuGroups[0].maxSize=4` and the CLI's config strings arrive as text.
    spec = parse_spec(with_group(maxSize="4", minSize="1", desiredCapacity="2"), "ai-infra", "dev")
    assert (spec.gpu_groups[0].min_size, spec.gpu_groups[0].max_size) == (1, 4)

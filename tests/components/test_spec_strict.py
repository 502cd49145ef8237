"""Strict at every level: unknown keys anywhere (top level too), null and empty entries, null values,
non-finite numbers and silent rewrites are all problems that name the key path; and every problem is
structured (path, message, value, what is allowed)."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from aiinfra.offline import Plan, PlanError
from aiinfra.problems import UNSET, Problem, ProblemsError
from components.errors import ConfigError
from components.spec import parse_spec
from tests.components.test_spec import BASE, with_group, with_top
from tests.components.test_spec_gcp import BASE as GCP


def problems(values: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_spec(values, "ai-infra", "test")
    return info.value.problems


def gcp(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(GCP)
    values.update(changes)
    return values


def gcp_group(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(GCP)
    values["gpuGroups"][0].update(changes)
    return values


def two_groups(second: Any) -> dict[str, Any]:
    values = copy.deepcopy(BASE)
    values["gpuGroups"].append(second)
    return values


STRICT: list[tuple[str, dict[str, Any], list[str]]] = [
    ("top-level typo of a list key", with_top(gpuGroup=[]),
     ["gpuGroup: unknown key; did you mean 'gpuGroups'?"]),
    ("top-level typo of a required key",
     {**{k: v for k, v in BASE.items() if k != "environment"}, "enviroment": "dev"},
     ["enviroment: unknown key; did you mean 'environment'?",
      "environment: is required; expected one of dev, staging, prod"]),
    ("null list entry", two_groups(None),
     ["gpuGroups[1]: is null; expected a mapping of keys (remove the entry, or fill it in)"]),
    ("empty list entry is parsed, not skipped", two_groups({}),
     ["gpuGroups[1].name: is required", "gpuGroups[1].instanceType: is required"]),
    ("list entry that is a string", two_groups("g2"),
     ["gpuGroups[1]: expected a mapping of keys, got 'g2'"]),
    ("null string value", gcp_group(zone=None),
     ["gpuGroups[0].zone: expected a non-empty string, got null"]),
    ("null enum value", with_group(purchase=None),
     ["gpuGroups[0].purchase: null is not allowed; expected one of on-demand, spot, mixed"]),
    ("null object value", with_group(schedule=None),
     ["gpuGroups[0].schedule: is null; expected a mapping (start, stop, days, timezone), or remove the key"]),
    ("null autoscaling", gcp_group(autoscaling=None),
     ["gpuGroups[0].autoscaling: is null; expected a mapping (minSize, maxSize, cpuUtilization, cooldownSeconds), "
      "or remove the key"]),
    ("NaN number", gcp_group(autoscaling={"cpuUtilization": math.nan}),
     ["gpuGroups[0].autoscaling.cpuUtilization: expected a number, got nan"]),
    ("infinite number", gcp_group(autoscaling={"cpuUtilization": "inf"}),
     ["gpuGroups[0].autoscaling.cpuUtilization: expected a number, got inf"]),
    ("forceDestroy in prod is refused, not dropped",
     with_top(environment="prod", storage={"bucket": {"forceDestroy": True}}, gpuGroups=[]),
     ["storage.bucket.forceDestroy: true is not allowed in prod (the bucket is protected and retained on delete "
      "there); remove it"]),
    ("forceDestroy in prod on GCP too", gcp(environment="prod", storage={"bucket": {"forceDestroy": True}},
                                            gpuGroups=[], tpuPods=[]),
     ["storage.bucket.forceDestroy: true is not allowed in prod (the bucket is protected and retained on delete "
      "there); remove it"]),
    ("usage NaN", with_top(usage={"efsGb": math.nan}),
     ["usage.efsGb: nan is not allowed; expected a number >= 0 (GB)"]),
    ("usage infinity", with_top(usage={"bucketGb": math.inf}),
     ["usage.bucketGb: inf is not allowed; expected a number >= 0 (GB)"]),
    ("usage negative", with_top(usage={"natGbPerMonth": -5}),
     ["usage.natGbPerMonth: -5 is not allowed; expected a number >= 0 (GB/month)"]),
    ("null TPU data disk", gcp(tpuPods=[{"name": "t1", "acceleratorType": "v5litepod-8", "zone": "us-central1-a",
                                          "dataDisks": [None]}]),
     ["tpuPods[0].dataDisks[0]: is null; expected a mapping of keys (remove the entry, or fill it in)"]),
    ("null kubernetes pool", with_top(kubernetes={"version": "1.33", "gpuPools": [None]}),
     ["kubernetes.gpuPools[0]: is null; expected a mapping of keys (remove the entry, or fill it in)"]),
    ("non-string key", with_top(network={1: "x"}),
     ["network.1: 1 is not a key name; keys are strings"]),
]


@pytest.mark.parametrize(("case", "values", "expected"), STRICT, ids=[c[0] for c in STRICT])
def test_strict_config_gets_exact_message(case: str, values: dict[str, Any], expected: list[str]) -> None:
    assert problems(values) == expected


def test_problems_are_structured_with_value_and_allowed() -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec(with_group(instanceType="p5.48xl", rootVolumeGib=10, purchase="cheap"), "ai-infra", "test")
    by_path = {p.path: p for p in info.value.items}
    assert by_path["gpuGroups[0].instanceType"].value == "p5.48xl"
    assert by_path["gpuGroups[0].rootVolumeGib"] == Problem(
        "gpuGroups[0].rootVolumeGib", "10 is out of range; allowed 75..16384 (GiB)", 10, "75..16384 (GiB)")
    assert by_path["gpuGroups[0].purchase"].allowed == ("on-demand", "spot", "mixed")
    assert isinstance(info.value, ProblemsError)
    # The JSON form a CI annotation reads: every problem with its path, and value/allowed when known.
    out = json.loads(json.dumps(info.value.to_json()))
    assert {"path": "gpuGroups[0].rootVolumeGib", "message": "10 is out of range; allowed 75..16384 (GiB)",
            "value": 10, "allowed": "75..16384 (GiB)"} in out
    assert all(set(p) >= {"path", "message"} for p in out)


def test_a_problem_without_a_value_says_so() -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec(with_group(minSize=3, maxSize=1), "ai-infra", "test")
    (problem,) = info.value.items
    assert problem.value is UNSET and "value" not in problem.to_json()


def test_a_misspelt_top_level_key_in_the_stack_file_stops_the_program(plan_values: Callable[..., Plan]) -> None:
    # `load_spec` reads the whole namespace, so the typo reaches the check instead of vanishing.
    with pytest.raises(PlanError) as err:
        plan_values({"ai-infra:gpuGroup": [{"name": "x", "instanceType": "g6.xlarge"}]})
    assert [p.render() for p in err.value.items] == ["gpuGroup: unknown key; did you mean 'gpuGroups'?"]


def test_non_finite_json_in_structured_config_is_refused(plan_values: Callable[..., Plan]) -> None:
    with pytest.raises(PlanError) as err:
        plan_values({"ai-infra:usage": '{"efsGb": NaN}'})
    assert [p.path for p in err.value.items] == ["usage"]
    assert "NaN and infinities are not allowed" in err.value.items[0].message

"""--policy-pack-config mapped the way the CLI maps it (pure, no pack process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiinfra.policyhost.host import PolicyInfo, PolicyPackError, load_policy_config_file, reconcile_config

POLICIES = [
    PolicyInfo("stack-monthly-budget", "mandatory", {"monthlyLimitUsd": {"type": "number"},
                                                     "warnRatio": {"type": "number", "default": 0.8}},
               ("monthlyLimitUsd",)),
    PolicyInfo("imdsv2-required", "mandatory", {}, ()),
]


def test_defaults_then_all_then_policy_entry() -> None:
    out = reconcile_config(POLICIES, {"all": "advisory", "stack-monthly-budget": {"monthlyLimitUsd": 10}})
    assert out == {
        "stack-monthly-budget": {"enforcementLevel": "advisory", "properties": {"monthlyLimitUsd": 10,
                                                                                "warnRatio": 0.8}},
        "imdsv2-required": {"enforcementLevel": "advisory", "properties": {}},
    }


def test_unknown_policy_name_and_bad_level_are_errors() -> None:
    with pytest.raises(PolicyPackError) as err:
        reconcile_config(POLICIES, {"stack-monthly-budgt": {"monthlyLimitUsd": 1}})
    assert str(err.value).splitlines()[0] == (
        "policy pack config: 'stack-monthly-budgt' is not a policy in the pack; did you mean 'stack-monthly-budget'?")
    with pytest.raises(PolicyPackError, match="enforcementLevel 'strict' is not one of advisory, mandatory"):
        reconcile_config(POLICIES, {"imdsv2-required": "strict", "stack-monthly-budget": {"monthlyLimitUsd": 1}})


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_budget_files_are_valid_json_with_a_monthly_limit(env: str) -> None:
    path = Path(__file__).resolve().parents[2] / "policies" / "budgets" / f"{env}.json"
    doc = load_policy_config_file(path)
    assert doc["stack-monthly-budget"]["monthlyLimitUsd"] > 0
    assert json.loads(path.read_text()) == doc

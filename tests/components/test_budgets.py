"""The runtime budget backstop: read from finance's budget file, built as AWS Budgets alerts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from aiinfra.offline import Plan
from components.budgets import BudgetLimit, load_budget
from components.errors import ConfigError


def test_limit_comes_from_the_policy_pack_budget_file() -> None:
    doc = json.loads((Path(__file__).resolve().parents[2] / "policies/budgets/dev.json").read_text())
    limit = load_budget("dev")
    assert limit == BudgetLimit(doc["stack-monthly-budget"]["monthlyLimitUsd"], 0.8, "", "policies/budgets/dev.json")


def test_no_file_no_budget(tmp_path: Path) -> None:
    assert load_budget("sandbox", tmp_path) is None


def test_bad_values_are_config_errors(tmp_path: Path) -> None:
    (tmp_path / "dev.json").write_text(json.dumps({"stack-monthly-budget": {"monthlyLimitUsd": 0, "warnRatio": 2}}))
    with pytest.raises(ConfigError) as err:
        load_budget("dev", tmp_path)
    assert err.value.problems == [
        "policies/budgets/dev.json: stack-monthly-budget.monthlyLimitUsd: 0 is not a positive number of USD",
        "policies/budgets/dev.json: stack-monthly-budget.warnRatio: 2 is not allowed; expected a number in (0, 1]",
    ]


def test_aws_budget_alerts_at_forecast_warn_ratio_and_actual_limit(plan_stack: Callable[..., Plan]) -> None:
    plan = plan_stack("dev")
    [budget] = plan.by_type("aws:budgets/budget:Budget")
    limit = load_budget("dev")
    assert limit is not None
    assert budget.inputs["limitAmount"] == f"{limit.monthly_limit_usd:.2f}"
    assert (budget.inputs["timeUnit"], budget.inputs["budgetType"]) == ("MONTHLY", "COST")
    assert budget.inputs["costFilters"] == [{"name": "TagKeyValue", "values": ["user:environment$dev"]}]
    kinds = {(n["notificationType"], n["threshold"]) for n in budget.inputs["notifications"]}
    assert kinds == {("FORECASTED", 80), ("ACTUAL", 100)}
    assert len(plan.by_type("aws:sns/topic:Topic")) == 1
    [policy] = plan.by_type("aws:sns/topicPolicy:TopicPolicy")
    assert json.loads(policy.inputs["policy"])["Statement"][0]["Principal"] == {"Service": "budgets.amazonaws.com"}


def test_alert_topic_is_encrypted_with_a_key_budgets_may_use(plan_stack: Callable[..., Plan]) -> None:
    import json

    plan = plan_stack("dev")
    [topic] = plan.by_type("aws:sns/topic:Topic")
    key = next(k for k in plan.by_type("aws:kms/key:Key") if k.name.endswith("-budget-alerts"))
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    budgets = statements["BudgetsPublishes"]
    assert budgets["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert budgets["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    assert budgets["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    [policy] = plan.by_type("aws:sns/topicPolicy:TopicPolicy")
    assert json.loads(policy.inputs["policy"])["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"}}

"""stack-monthly-budget: the expected monthly cost must stay under the environment's budget.

Over `monthlyLimitUsd` is reported by this policy (mandatory by default); between
`warnRatio` x limit and the limit by its companion `stack-monthly-budget-warning`, which is
advisory. The SDK binds one enforcement level to each policy, so the two levels need two
policies; the warning reads the figures this policy computed in the same AnalyzeStack call,
so finance sets the limit once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from rules.support import budget_file, drivers, guarded, money, over, stack_cost

_pending: list[str] = []


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    _pending.clear()
    cfg: Mapping[str, Any] = args.get_config()
    limit = float(cfg["monthlyLimitUsd"])
    ratio = float(cfg.get("warnRatio", 0.8))
    top = int(cfg.get("topDrivers", 3))
    cost, _ = stack_cost(args)
    expected = cost.expected_monthly_usd
    if over(expected, limit):
        report(f"expected monthly cost {money(expected)} exceeds the budget monthlyLimitUsd {money(limit)} "
               f"in {budget_file()} by {money(expected - limit)}; top cost drivers: {drivers(cost, top)}", None)
    elif expected > ratio * limit:
        _pending.append(f"expected monthly cost {money(expected)} is {expected / limit:.0%} of the budget "
                        f"monthlyLimitUsd {money(limit)} in {budget_file()} (warnRatio {ratio}); "
                        f"top cost drivers: {drivers(cost, top)}")


def _warn(args: StackValidationArgs, report: ReportViolation) -> None:
    for message in _pending:
        report(message, None)
    _pending.clear()


POLICY = StackValidationPolicy(
    name="stack-monthly-budget",
    description="The stack's expected monthly cost (desired capacity, spot share, schedules, usage) stays under "
                "the environment's monthly budget.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(_validate),
    config_schema=PolicyConfigSchema(
        properties={
            "monthlyLimitUsd": {"type": "number", "minimum": 0, "description": "Monthly budget in USD."},
            "warnRatio": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.8,
                          "description": "Share of the budget above which an advisory warning is raised."},
            "topDrivers": {"type": "integer", "minimum": 1, "default": 3,
                           "description": "How many cost drivers a violation lists."},
            "gcpBillingAccount": {"type": "string", "pattern": "^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$",
                                  "description": "Not read by the rule: the program's runtime budget "
                                                 "(components/budgets.py) is created on this billing account."},
        },
        required=["monthlyLimitUsd"],
    ),
)

WARNING = StackValidationPolicy(
    name="stack-monthly-budget-warning",
    description="The stack's expected monthly cost is close to its budget (over stack-monthly-budget.warnRatio).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_warn,
)

"""stack-worst-case-budget: every group at max size, every slice, 730 h, must stay under a ceiling."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from rules.support import budget_file, drivers, guarded, money, over, stack_cost


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    cfg = args.get_config()
    limit = float(cfg["monthlyLimitUsd"])
    cost, _ = stack_cost(args)
    worst = cost.worst_case_monthly_usd
    if over(worst, limit):
        report(f"worst-case monthly cost {money(worst)} (every group at max size, 730 h) exceeds "
               f"monthlyLimitUsd {money(limit)} in {budget_file()} by {money(worst - limit)}; "
               f"top cost drivers: {drivers(cost, int(cfg.get('topDrivers', 3)), worst=True)}", None)


POLICY = StackValidationPolicy(
    name="stack-worst-case-budget",
    description="The stack's worst-case monthly cost (max capacity everywhere, around the clock) stays under a "
                "ceiling, so autoscaling cannot spend past it.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(_validate),
    config_schema=PolicyConfigSchema(
        properties={
            "monthlyLimitUsd": {"type": "number", "minimum": 0, "description": "Worst-case monthly ceiling in USD."},
            "topDrivers": {"type": "integer", "minimum": 1, "default": 3},
        },
        required=["monthlyLimitUsd"],
    ),
)

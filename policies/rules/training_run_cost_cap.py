"""training-run-cost-cap: one run of a training job, at its maximum duration, costs at most maxRunUsd."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from rules.support import guarded, money, over, stack_cost


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    cap = float(args.get_config()["maxRunUsd"])
    cost, _ = stack_cost(args)
    for line in cost.lines:
        if line.per_run_usd is not None and over(line.per_run_usd, cap):
            report(f"{line.name}: one run costs up to {money(line.per_run_usd)} ({line.basis}); "
                   f"maxRunUsd is {money(cap)}. Lower activeDeadlineSeconds or the node count", line.urn)


POLICY = StackValidationPolicy(
    name="training-run-cost-cap",
    description="A training job's cost per run (nodes x price x maximum run hours from its deadline) stays under "
                "a cap.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(_validate),
    config_schema=PolicyConfigSchema(
        properties={"maxRunUsd": {"type": "number", "minimum": 0, "description": "Cap per run in USD."}},
        required=["maxRunUsd"],
    ),
)

"""max-accelerators: accelerators (GPUs, TPU chips) at max size, per group and per stack."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from rules.support import guarded, stack_cost


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    cfg = args.get_config()
    per_group, per_stack = int(cfg["maxPerGroup"]), int(cfg["maxPerStack"])
    cost, _ = stack_cost(args)
    total = 0
    for line in cost.lines:
        total += line.accelerators
        if line.accelerators > per_group:
            report(f"{line.name} can scale to {line.accelerators} {line.accelerator_name} accelerators; "
                   f"maxPerGroup is {per_group}", line.urn)
    if total > per_stack:
        report(f"the stack can scale to {total} accelerators; maxPerStack is {per_stack}", None)


POLICY = StackValidationPolicy(
    name="max-accelerators",
    description="Accelerators at max size stay under a limit per group/pool/slice and per stack.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(_validate),
    config_schema=PolicyConfigSchema(
        properties={"maxPerGroup": {"type": "integer", "minimum": 0}, "maxPerStack": {"type": "integer", "minimum": 0}},
        required=["maxPerGroup", "maxPerStack"],
    ),
)

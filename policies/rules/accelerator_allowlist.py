"""accelerator-allowlist: only the accelerators this environment allows (GPU models, TPU generations)."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from rules.support import environment, guarded, stack_cost


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    allowed = list(args.get_config().get("allowed", []))
    cost, _ = stack_cost(args)
    for line in cost.lines:
        if line.accelerators and line.accelerator_name not in allowed:
            report(f"{line.name} uses accelerator {line.accelerator_name!r}, which {environment()} does not allow; "
                   f"allowed: {', '.join(allowed) or 'none'}", line.urn)


POLICY = StackValidationPolicy(
    name="accelerator-allowlist",
    description="Accelerators (GPU models such as h100, TPU generations such as v5p) are limited per environment.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(_validate),
    config_schema=PolicyConfigSchema(
        properties={"allowed": {"type": "array", "items": {"type": "string"},
                                "description": "Catalog accelerator names: a10g, l4, l40s, h100, nvidia-l4, v5e, ..."}},
        required=["allowed"],
    ),
)

"""spot-required: GPU/TPU capacity in non-prod environments is bought on the spot market."""

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
    envs = list(args.get_config().get("environments", ["dev", "staging"]))
    max_od = int(args.get_config().get("maxOnDemandAccelerators", 0))
    if environment() not in envs:
        return
    cost, _ = stack_cost(args)
    for line in cost.lines:
        if line.on_demand_accelerators > max_od:
            report(f"{line.name} can run {line.on_demand_accelerators} {line.accelerator_name} accelerators "
                   f"outside the spot market in {environment()}; allowed: {max_od}. Use purchase 'spot' "
                   f"(or a spot node pool / spot TPU)", line.urn)


POLICY = StackValidationPolicy(
    name="spot-required",
    description="Accelerator capacity in non-prod environments runs on spot (at most maxOnDemandAccelerators "
                "on-demand per group).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(_validate),
    config_schema=PolicyConfigSchema(
        properties={
            "environments": {"type": "array", "items": {"type": "string"}, "default": ["dev", "staging"]},
            "maxOnDemandAccelerators": {"type": "integer", "minimum": 0, "default": 0,
                                        "description": "On-demand accelerators a group may keep (e.g. a base)."},
        },
    ),
)

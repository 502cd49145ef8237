"""budget-environment: the budget file gating a stack is its own environment's.

Each `policies/budgets/<env>.json` names its environment here; a stack whose
`ai-infra:environment` differs (a dev stack gated with prod's roomier limits, or a stack
with no environment) is a violation, whatever file CI or a person picked.
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from rules.support import ENVIRONMENTS, config, guarded


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    budget_env = str(args.get_config()["environment"])
    stack_env = config("ai-infra:environment")
    if stack_env != budget_env:
        fix = f"gate it with policies/budgets/{stack_env}.json" if stack_env in ENVIRONMENTS else (
            f"set ai-infra:environment to one of {', '.join(ENVIRONMENTS)}")
        report(f"the budget file is for environment {budget_env!r} but the stack's ai-infra:environment is "
               f"{stack_env!r}; {fix}", None)


POLICY = StackValidationPolicy(
    name="budget-environment",
    description="The budget file's environment is the stack's ai-infra:environment.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(_validate),
    config_schema=PolicyConfigSchema(
        properties={"environment": {"type": "string", "enum": list(ENVIRONMENTS),
                                    "description": "The environment this budget file is for."}},
        required=["environment"],
    ),
)

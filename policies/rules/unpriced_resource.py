"""unpriced-resource: a resource whose cost cannot be determined is a violation (fail closed)."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from rules.support import guarded, stack_cost


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    cost, problems = stack_cost(args)
    for problem in problems:
        report(f"the stack cannot be priced: {problem}", None)
    for line in cost.unpriced:
        report(f"{line.name} ({line.type}) cannot be priced: {line.reason}", line.urn)


POLICY = StackValidationPolicy(
    name="unpriced-resource",
    description="Every resource is priced or explicitly free; a cost that cannot be determined (unknown type, "
                "value unknown at preview, no public price, a price or usage figure that is not a finite number >= 0) "
                "blocks the change instead of counting as $0.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(_validate),
)

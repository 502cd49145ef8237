"""accelerator-allowlist: only the accelerators this environment allows (GPU models, TPU generations).

Names are canonical (`aiinfra.catalog.canonical`): the estimator reports `h100` for an H100 on
either cloud and `v5e` for a v5e slice, so a budget file lists each accelerator once. A
cloud-specific spelling in a budget file (`nvidia-h100-80gb`, `nvidia-tesla-t4`,
`tpu-v5-lite-podslice`, from before names were canonical) is still accepted: it is read as the
canonical name it maps to (`accelerator_aliases()` is the mapping).
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from aiinfra.catalog.canonical import canonical_accelerator
from rules.support import environment, guarded, stack_cost


def allowed_accelerators(listed: list[str]) -> list[str]:
    """The budget file's list in canonical names, in its order, each once (unknown names kept as written)."""
    return list(dict.fromkeys(canonical_accelerator(str(name)) or str(name) for name in listed))


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    allowed = allowed_accelerators(list(args.get_config().get("allowed", [])))
    cost, _ = stack_cost(args)
    for line in cost.lines:
        if line.accelerators and (canonical_accelerator(line.accelerator_name) or line.accelerator_name) not in allowed:
            report(f"{line.name} uses accelerator {line.accelerator_name!r}, which {environment()} does not allow; "
                   f"allowed: {', '.join(allowed) or 'none'}", line.urn)


POLICY = StackValidationPolicy(
    name="accelerator-allowlist",
    description="Accelerators (GPU models such as h100, TPU generations such as v5p) are limited per environment.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(_validate),
    config_schema=PolicyConfigSchema(
        properties={"allowed": {"type": "array", "items": {"type": "string"},
                                "description": "Canonical accelerator names: GPU models (a10g, l4, l40s, h100, "
                                               "t4, ...) and TPU generations (v5e, v5p, v6e)"}},
        required=["allowed"],
    ),
)

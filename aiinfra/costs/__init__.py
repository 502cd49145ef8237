"""Cost estimation for captured Pulumi resources: every resource priced, explicitly free, or `unpriced`.

The estimator is pure: it takes resources (type token, inputs, parent) as the offline plan
or the policy pack sees them, the stack's region and usage assumptions, and returns cost
lines with a basis a person can check. It never returns a silent $0 for a type it does not
know, and a cost-deciding value that is unknown at preview makes the line `unpriced`.
"""

from aiinfra.catalog.usage import USAGE_DEFAULTS, Usage, UsageError, parse_usage, usage_problems
from aiinfra.costs.estimate import FREE_TYPES, PRICED_TYPES, estimate_resource, estimate_stack
from aiinfra.costs.model import UNKNOWN, CostLine, CostResource, StackCost, Status

__all__ = [
    "FREE_TYPES",
    "PRICED_TYPES",
    "UNKNOWN",
    "USAGE_DEFAULTS",
    "CostLine",
    "CostResource",
    "StackCost",
    "Status",
    "Usage",
    "UsageError",
    "estimate_resource",
    "estimate_stack",
    "parse_usage",
    "usage_problems",
]

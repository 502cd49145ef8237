"""The price table: every resource type the components create is priced here or listed as free.

`estimate_resource` prices one resource from its inputs (and, for groups, its siblings under
the same component: launch template, schedules, autoscaler). `estimate_stack` prices them
all. A type in neither table, a missing or unknown cost-deciding value, or a type with no
public price gives an `unpriced` line with the reason: never a silent $0.

The pricers live per cloud in `aiinfra/costs/pricers/` (see its docstring for where a new
type goes); this module only merges their tables and dispatches on the type token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiinfra.catalog.usage import Usage
from aiinfra.costs.inputs import Context, Pricer, Unpriced
from aiinfra.costs.model import Category, CostLine, CostResource, StackCost, Status
from aiinfra.costs.pricers import aws, gcp, kubernetes, serving, tpu_queued

__all__ = ["FREE_TYPES", "PRICED_TYPES", "PRICERS", "Context", "estimate_resource", "estimate_stack", "is_costed"]


def _merge(*tables: Mapping[str, Pricer]) -> dict[str, Pricer]:
    merged: dict[str, Pricer] = {}
    for table in tables:
        twice = merged.keys() & table.keys()
        if twice:
            raise RuntimeError(f"priced by two pricer modules: {sorted(twice)}")
        merged.update(table)
    return merged


PRICERS: dict[str, Pricer] = _merge(aws.PRICERS, gcp.PRICERS, kubernetes.PRICERS, serving.PRICERS,
                                    tpu_queued.PRICERS)
PRICED_TYPES: frozenset[str] = frozenset(PRICERS)

# Cloud resource types with no charge of their own. Each is here on purpose: anything not
# here, not in PRICED_TYPES and not a free Kubernetes object is `unpriced`.
FREE_TYPES: frozenset[str] = aws.FREE_TYPES | gcp.FREE_TYPES


def is_costed(type_token: str) -> bool:
    """Whether a resource gets a cost line at all (components and the stack do not)."""
    return not (type_token.startswith("ai-infra:") or type_token == "pulumi:pulumi:Stack"
                or type_token.startswith("pulumi:providers:"))


def estimate_resource(res: CostResource, ctx: Context) -> CostLine:
    """Price one resource: priced, explicitly free, or unpriced with the reason."""
    pricer = PRICERS.get(res.type)
    if pricer is None:
        if res.type in FREE_TYPES or kubernetes.is_free(res.type):
            return CostLine(res.urn, res.type, res.name, Status.FREE, Category.OTHER, basis="no charge")
        return CostLine(res.urn, res.type, res.name, Status.UNPRICED,
                        reason=f"{res.type} is not in the estimator's table (aiinfra/costs/estimate.py)")
    try:
        return pricer(res, ctx)
    except Unpriced as exc:
        return CostLine(res.urn, res.type, res.name, Status.UNPRICED, reason=exc.reason)


def estimate_stack(resources: Iterable[CostResource], region: str, usage: Usage | None = None) -> StackCost:
    """Cost lines for every resource of a stack, in the order given."""
    usage = usage or Usage()
    costed = [r for r in resources if is_costed(r.type)]
    ctx = Context(region, usage, costed)
    return StackCost(region=region, lines=[estimate_resource(r, ctx) for r in costed], usage=usage.to_json())

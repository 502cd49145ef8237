"""What the rules share: plain properties (unknowns kept as a marker), stack config, the stack's cost."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pulumi.runtime
from pulumi_policy import PolicyResource, StackValidationArgs
from pulumi_policy.proxy import _DictProxy, _is_unknown, _ListProxy

from aiinfra.catalog.prices import HOURS_PER_MONTH
from aiinfra.costs import UNKNOWN, CostResource, StackCost, UsageError, estimate_stack, parse_usage
from aiinfra.costs.model import money

__all__ = ["HOURS_PER_MONTH", "money"]


def plain(value: Any) -> Any:
    """Properties without the SDK's unknown-checking proxies; an unknown becomes UNKNOWN.

    Reading through the proxy raises at the first unknown, and the SDK turns that into an
    advisory "can't run policy during preview": a budget would fail open. The estimator
    instead sees the marker and prices the resource as unpriced (fail closed).
    """
    if isinstance(value, _DictProxy):
        value = value["__target"]
    if isinstance(value, _ListProxy):
        value = value["__target"]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if _is_unknown(value):
        return UNKNOWN
    return value


def config(key: str) -> str | None:
    """A stack config value (`aws:region`, `ai-infra:environment`), as the CLI passes it in PULUMI_CONFIG."""
    return pulumi.runtime.get_config(key)


def environment() -> str:
    return config("ai-infra:environment") or "unknown"


def region() -> str:
    return config("aws:region") or config("gcp:region") or ""


def budget_file() -> str:
    return f"policies/budgets/{environment()}.json"


def cost_resources(resources: Iterable[PolicyResource]) -> list[CostResource]:
    return [CostResource(r.urn, r.resource_type, r.name, plain(r.props), r.parent.urn if r.parent else None)
            for r in resources]


def stack_cost(args: StackValidationArgs) -> tuple[StackCost, list[str]]:
    """The stack priced by aiinfra.costs, and any problem that makes the whole estimate unreliable."""
    problems: list[str] = []
    raw = config("ai-infra:usage")
    usage_raw: Any = None
    if raw:
        try:
            usage_raw = json.loads(raw)
        except json.JSONDecodeError:
            problems.append(f"ai-infra:usage is not valid JSON: {raw[:60]!r}")
    try:
        usage = parse_usage(usage_raw)
    except UsageError as exc:
        problems.extend(exc.problems)
        usage = parse_usage(None)
    if not region():
        problems.append("the stack config has no aws:region or gcp:region; prices are per region")
    return estimate_stack(cost_resources(args.resources), region(), usage), problems


def drivers(cost: StackCost, n: int, worst: bool = False) -> str:
    parts = []
    for line in cost.top_drivers(n, worst=worst):
        usd = line.worst_monthly_usd if worst else line.monthly_usd
        parts.append(f"{line.name} {money(usd)}/month ({line.worst_basis if worst else line.basis})")
    return "; ".join(parts) or "none"

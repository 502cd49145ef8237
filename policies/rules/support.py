"""What the rules share: plain properties (unknowns kept as a marker), stack config, the stack's cost.

Fail closed everywhere: a value unknown at preview that decides a verdict is a violation
(`is_unknown`, `items`, `values`, `mapping`), a rule that crashes reports a mandatory violation instead of an
error the engine may not surface (`guarded`), and a number that is not finite and
non-negative (a usage figure, a price, a cost line) can never pass a budget.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import pulumi.runtime
from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs
from pulumi_policy.proxy import _DictProxy, _is_unknown, _ListProxy

from aiinfra.catalog.negotiated import NEGOTIATED_FILE
from aiinfra.catalog.prices import HOURS_PER_MONTH
from aiinfra.costs import UNKNOWN, CostResource, StackCost, UsageError, estimate_stack, parse_usage
from aiinfra.costs.model import money
from aiinfra.policyhost import ENVIRONMENTS

__all__ = ["ENVIRONMENTS", "HOURS_PER_MONTH", "NEGOTIATED_FILE", "UNKNOWN", "money"]


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


def is_unknown(value: Any) -> bool:
    """True for a value the engine does not know yet at preview (the marker `plain` leaves)."""
    return isinstance(value, str) and value == UNKNOWN


def items(value: Any) -> list[Any] | None:
    """A list property as a list; None when the list itself is unknown at preview (the caller fails closed).

    Elements that are not objects (an unknown element) become {UNKNOWN-valued} markers, so a
    rule reading `.get(...)` on them sees unknowns instead of crashing.
    """
    if is_unknown(value):
        return None
    if not isinstance(value, (list, tuple)):
        return []
    return [v if isinstance(v, dict) else _UnknownDict() for v in value]


def values(value: Any) -> list[Any] | None:
    """A list of scalars (CIDRs, ports, members) as a list; None when the list is unknown at preview."""
    if is_unknown(value):
        return None
    return list(value) if isinstance(value, (list, tuple)) else []


def mapping(value: Any) -> dict[str, Any]:
    """An object property as a dict; an unknown object reads as one whose every key is unknown."""
    if isinstance(value, dict):
        return value
    return _UnknownDict() if is_unknown(value) else {}


class _UnknownDict(dict):  # type: ignore[type-arg]
    """An object unknown at preview: every key reads as UNKNOWN."""

    def get(self, key: Any, default: Any = None) -> Any:
        return UNKNOWN


V = TypeVar("V", bound=Callable[..., None])


def guarded(validate: V) -> V:
    """A rule that raises reports one violation naming the error: a crashed rule never passes a change."""

    @functools.wraps(validate)
    def _run(args: Any, report: ReportViolation) -> None:
        try:
            validate(args, report)
        except Exception as exc:
            report(f"the rule could not check this change ({type(exc).__name__}: {exc}); "
                   "treated as a violation", None)

    return _run  # type: ignore[return-value]


def cost_resources(resources: Iterable[PolicyResource]) -> list[CostResource]:
    return [CostResource(r.urn, r.resource_type, r.name, plain(r.props), r.parent.urn if r.parent else None)
            for r in resources]


def _number_problems(value: Any, path: str) -> list[str]:
    """Every number under `value` that is not finite and non-negative, by key path."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            return [f"{path}: {value!r} is not a finite number >= 0"]
        return []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _number_problems(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _number_problems(v, f"{path}[{i}]")]
    return []


def usage_problems(raw: Any) -> list[str]:
    """What makes the stack's usage block untrustworthy for a budget: moved keys, non-finite or negative numbers."""
    problems = _number_problems(raw, "usage")
    if isinstance(raw, dict) and "negotiatedPrices" in raw:
        problems.append(f"usage.negotiatedPrices is not read from the stack file: negotiated prices live in "
                        f"{NEGOTIATED_FILE} (owned by finance, each with its contract and expiry)")
    return problems


def line_problems(cost: StackCost) -> list[str]:
    """Cost lines whose figures are not finite and non-negative (a price that is NaN, infinite or negative)."""
    out = []
    for line in cost.lines:
        for label, value in (("hourly", line.hourly_usd), ("monthly", line.monthly_usd),
                             ("worst-case monthly", line.worst_monthly_usd), ("per-run", line.per_run_usd)):
            if value is not None and (not math.isfinite(value) or value < 0):
                out.append(f"{line.name} ({line.type}): {label} cost {value!r} is not a finite number >= 0")
    return out


_CACHE: dict[str, tuple[StackCost, list[str]]] = {}


def _fingerprint(resources: list[CostResource], usage_raw: str | None, where: str) -> str:
    doc = [[r.urn, r.type, r.inputs, r.parent] for r in resources]
    text = json.dumps([doc, usage_raw, where], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def stack_cost(args: StackValidationArgs) -> tuple[StackCost, list[str]]:
    """The stack priced by aiinfra.costs, and any problem that makes the whole estimate unreliable.

    The SDK hands every stack rule its own copy of the resources, so the estimate is kept by
    a fingerprint of what was priced: one estimate per analysis, however many rules read it.
    """
    resources = cost_resources(args.resources)
    raw = config("ai-infra:usage")
    key = _fingerprint(resources, raw, region())
    if key in _CACHE:
        cached, known = _CACHE[key]
        return cached, list(known)
    problems: list[str] = []
    usage_raw: Any = None
    if raw:
        try:
            usage_raw = json.loads(raw)
        except json.JSONDecodeError:
            problems.append(f"ai-infra:usage is not valid JSON: {raw[:60]!r}")
    problems.extend(usage_problems(usage_raw))
    try:
        usage = parse_usage(None if problems else usage_raw)
    except UsageError as exc:
        problems.extend(exc.problems)
        usage = parse_usage(None)
    if not region():
        problems.append("the stack config has no aws:region or gcp:region; prices are per region")
    cost = estimate_stack(resources, region(), usage)
    problems.extend(line_problems(cost))
    _CACHE.clear()
    _CACHE[key] = (cost, problems)
    return cost, list(problems)


def over(value: float, limit: float) -> bool:
    """A figure breaks a limit when it is above it, or is not a finite number (NaN passes every comparison)."""
    return not math.isfinite(value) or value > limit


def drivers(cost: StackCost, n: int, worst: bool = False) -> str:
    parts = []
    for line in cost.top_drivers(n, worst=worst):
        usd = line.worst_monthly_usd if worst else line.monthly_usd
        parts.append(f"{line.name} {money(usd)}/month ({line.worst_basis if worst else line.basis})")
    return "; ".join(parts) or "none"

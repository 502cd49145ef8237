"""The pricers' kit: read a resource's inputs, quote catalog prices, and build a cost line.

Every pricer (`aiinfra/costs/pricers/`) is a function `(CostResource, Context) -> CostLine`
built from these pieces. A cost-deciding value that is missing or unknown at preview raises
`Unpriced` with the reason; `estimate_resource` turns it into an `unpriced` line, never $0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aiinfra.catalog.prices import HOURS_PER_MONTH, Market, PriceError, PriceQuote, hourly_price, unit_price
from aiinfra.catalog.usage import Usage
from aiinfra.costs.model import UNKNOWN, Category, CostLine, CostResource, Status

H = HOURS_PER_MONTH


class Unpriced(Exception):  # noqa: N818 (control flow between a pricer and estimate_resource, never raised out)
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Context:
    """The stack around one resource: region, usage, and the resources under the same parent."""

    region: str
    usage: Usage
    resources: Sequence[CostResource] = ()
    on: date = field(default_factory=date.today)
    """The plan date: prices that depend on a calendar (EKS extended support) are those of this day."""
    _by_parent: dict[str | None, list[CostResource]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for r in self.resources:
            self._by_parent.setdefault(r.parent, []).append(r)

    def siblings(self, res: CostResource, *types: str) -> list[CostResource]:
        return [r for r in self._by_parent.get(res.parent, []) if r.type in types and r.urn != res.urn]

    def count(self, *types: str) -> int:
        return sum(1 for r in self.resources if r.type in types)


Pricer = Callable[[CostResource, Context], CostLine]
"""Prices one resource type; raises `Unpriced` when a cost-deciding value is missing or unknown."""


# ----------------------------------------------------------------------------------------
# Reading inputs: a cost-deciding value must be present and known
# ----------------------------------------------------------------------------------------


def _is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value == UNKNOWN


def get(obj: Any, path: str, default: Any = None, required: bool = False) -> Any:
    """Walk `a.b.0.c`; an unknown anywhere on the way is unpriced, a missing value the default."""
    node = obj
    walked: list[str] = []
    for part in path.split("."):
        walked.append(part)
        if _is_unknown(node):
            raise Unpriced(f"{'.'.join(walked[:-1])} is unknown at preview and decides the cost")
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            node = None
        if node is None:
            if required:
                raise Unpriced(f"{path} is not set; it decides the cost")
            return default
    if _is_unknown(node):
        raise Unpriced(f"{path} is unknown at preview and decides the cost")
    return node


def num(obj: Any, path: str, default: float | None = None) -> float:
    """A number at `path`; required unless a default is given."""
    value = get(obj, path, default, required=default is None)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Unpriced(f"{path} is {value!r}, not a number") from None


# ----------------------------------------------------------------------------------------
# Prices from the catalog
# ----------------------------------------------------------------------------------------


def quote(name: str, ctx: Context, market: Market) -> PriceQuote:
    """$/h of an instance type, machine type, accelerator or TPU slice in the context's region."""
    try:
        return hourly_price(name, ctx.region, market, ctx.usage.negotiated_prices)
    except PriceError as exc:
        raise Unpriced(str(exc)) from None


def worst_quote(name: str, ctx: Context, market: Market) -> PriceQuote:
    """The worst-case $/h: spot capacity at its on-demand price. A spot price may rise to on-demand,
    and capacity reclaimed from a group that mixes markets comes back on-demand; the ceiling a budget
    is checked against must hold either way."""
    return quote(name, ctx, Market.ON_DEMAND if market is Market.SPOT else market)


def unit(key: str, ctx: Context) -> float:
    """$ per unit of a usage-priced item (`aws.ebs.gp3`, `gcp.nat.hour`) in the context's region."""
    try:
        return unit_price(key, ctx.region).usd
    except PriceError as exc:
        raise Unpriced(str(exc)) from None


# ----------------------------------------------------------------------------------------
# Building a line: count x what x hours x price, summed
# ----------------------------------------------------------------------------------------


def fmt_usd(x: float) -> str:
    return f"${x:,.4f}".rstrip("0").rstrip(".") if x < 1 else f"${x:,.2f}"


def fmt_hours(h: float) -> str:
    return f"{h:,.0f}" if abs(h - round(h)) < 0.05 else f"{h:,.1f}"


@dataclass(frozen=True)
class Part:
    """One term of a line: count x what x hours x price."""

    count: float
    what: str
    hours: float
    price: float
    unit: str = "h"

    @property
    def usd(self) -> float:
        return self.count * self.hours * self.price

    def text(self) -> str:
        if self.unit == "h":
            return f"{fmt_hours(self.count)} x {self.what} x {fmt_hours(self.hours)} h x {fmt_usd(self.price)}"
        return f"{fmt_hours(self.count)} {self.unit} {self.what} x {fmt_usd(self.price)}"


def _basis(parts: Iterable[Part]) -> str:
    shown = [p.text() for p in parts if p.count]
    return " + ".join(shown) if shown else "0 running"


def cost_line(res: CostResource, category: Category, expected: Sequence[Part], worst: Sequence[Part] | None = None,
              hourly: float | None = None, **extra: Any) -> CostLine:
    """A priced line: monthly = sum of the expected parts, worst case = sum of the worst parts."""
    worst = expected if worst is None else worst
    monthly = sum(p.usd for p in expected)
    return CostLine(
        urn=res.urn, type=res.type, name=res.name, status=Status.PRICED, category=category,
        hourly_usd=hourly if hourly is not None else monthly / H,
        monthly_usd=monthly, worst_monthly_usd=sum(p.usd for p in worst),
        basis=_basis(expected), worst_basis=_basis(worst), **extra,
    )


def usage_share(ctx: Context, *types: str) -> float:
    """One resource's share of a stack-wide usage figure split evenly over all resources of `types`."""
    return 1 / max(ctx.count(*types), 1)

"""The estimator's data: a resource as captured, one cost line per resource, and a stack's totals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiinfra.catalog.prices import HOURS_PER_MONTH

UNKNOWN = "[unknown]"
"""How a value that is unknown at preview reads in captured inputs (offline plan and policy pack alike)."""


class Status(StrEnum):
    PRICED = "priced"
    FREE = "free"
    """Explicitly $0 in the table (VPC, route tables, IAM): no charge of its own."""
    UNPRICED = "unpriced"
    """The cost cannot be determined: unknown type, unknown cost-deciding value, no public price."""


class Category(StrEnum):
    COMPUTE = "compute"
    ACCELERATORS = "accelerators"
    STORAGE = "storage"
    NETWORK = "network"
    CONTROL_PLANE = "control plane"
    OTHER = "other"


@dataclass(frozen=True)
class CostResource:
    """One resource as the engine registers it: enough to price it and to find its siblings."""

    urn: str
    type: str
    name: str
    inputs: Mapping[str, Any]
    parent: str | None = None


@dataclass(frozen=True)
class CostLine:
    """What one resource costs: expected and worst case, each with a basis a person can check."""

    urn: str
    type: str
    name: str
    status: Status
    category: Category = Category.OTHER
    hourly_usd: float = 0.0
    """Expected hourly rate while running (for scheduled groups: the working-hours rate)."""
    monthly_usd: float = 0.0
    """Expected monthly cost (730 h, schedules and usage honoured)."""
    worst_monthly_usd: float = 0.0
    """Every group at max size, every slice, 730 h."""
    basis: str = ""
    worst_basis: str = ""
    reason: str = ""
    """Why a line is unpriced (what is unknown or missing, and how to fix it)."""
    per_run_usd: float | None = None
    """Training jobs: the cost of one run at its maximum duration."""
    accelerators: int = 0
    """Accelerators (GPUs or TPU chips) at max size: read by the max-accelerators rule."""
    accelerator_name: str = ""
    spot: bool = False
    """True when accelerator capacity is bought on the spot market (all of it)."""
    on_demand_accelerators: int = 0
    """Accelerators at max size bought outside the spot market."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "urn": self.urn, "type": self.type, "name": self.name, "status": self.status.value,
            "category": self.category.value, "hourly_usd": round(self.hourly_usd, 4),
            "monthly_usd": round(self.monthly_usd, 2), "worst_case_monthly_usd": round(self.worst_monthly_usd, 2),
            "basis": self.basis,
        }
        if self.worst_basis and self.worst_basis != self.basis:
            out["worst_case_basis"] = self.worst_basis
        if self.reason:
            out["reason"] = self.reason
        if self.per_run_usd is not None:
            out["per_run_usd"] = round(self.per_run_usd, 2)
        return out


@dataclass
class StackCost:
    """All lines of one stack and the two figures a budget is checked against."""

    region: str
    lines: list[CostLine] = field(default_factory=list)
    usage: Mapping[str, Any] = field(default_factory=dict)

    @property
    def expected_monthly_usd(self) -> float:
        return round(sum(line.monthly_usd for line in self.lines), 2)

    @property
    def worst_case_monthly_usd(self) -> float:
        return round(sum(line.worst_monthly_usd for line in self.lines), 2)

    @property
    def unpriced(self) -> list[CostLine]:
        return [line for line in self.lines if line.status is Status.UNPRICED]

    def top_drivers(self, n: int = 3, worst: bool = False) -> list[CostLine]:
        key = (lambda x: x.worst_monthly_usd) if worst else (lambda x: x.monthly_usd)
        priced = [line for line in self.lines if key(line) > 0]
        return sorted(priced, key=key, reverse=True)[:n]

    def by_category(self) -> dict[str, float]:
        out: dict[str, float] = {c.value: 0.0 for c in Category}
        for line in self.lines:
            out[line.category.value] += line.monthly_usd
        return {k: round(v, 2) for k, v in out.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "hours_per_month": HOURS_PER_MONTH,
            "expected_monthly_usd": self.expected_monthly_usd,
            "worst_case_monthly_usd": self.worst_case_monthly_usd,
            "by_category": self.by_category(),
            "usage": dict(self.usage),
            "unpriced": [line.urn for line in self.unpriced],
            "lines": [line.to_json() for line in self.lines],
        }


def money(usd: float) -> str:
    """$1,234.56 (cents below $100, whole dollars above: a PR comment reads better)."""
    return f"${usd:,.2f}" if abs(usd) < 100 else f"${usd:,.0f}"

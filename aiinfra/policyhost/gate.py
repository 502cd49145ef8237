"""The cost gate of one planned stack: price it, run the policy pack over gRPC, render the verdict.

`aiinfra plan` and `aiinfra cost` use this; the pack is the one CI runs with
`pulumi preview --policy-pack policies --policy-pack-config policies/budgets/<env>.json`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiinfra.catalog.negotiated import NegotiatedPriceError, negotiated_prices
from aiinfra.catalog.usage import UsageError, parse_usage
from aiinfra.costs.estimate import estimate_stack
from aiinfra.costs.model import StackCost, Status, money
from aiinfra.policyhost import ENVIRONMENTS
from aiinfra.policyhost.host import (
    PackResult,
    Violation,
    load_policy_config_file,
    pack_resources,
    run_policy_pack,
    to_cost_resources,
)


class GateError(Exception):
    """The stack cannot be gated (bad usage block, unreadable budget file): exit 2."""


@dataclass
class GateResult:
    stack: str
    environment: str
    cost: StackCost
    policy_config: str | None
    violations: list[Violation] = field(default_factory=list)
    negotiated: list[str] = field(default_factory=list)
    """Every negotiated price the estimate used, with its contract and expiry (shown in the PR comment)."""
    warnings: list[str] = field(default_factory=list)
    """Expired negotiated prices this stack would have used: priced at list price instead."""

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level in ("mandatory", "remediate")]

    def cost_json(self) -> dict[str, Any]:
        return self.cost.to_json() | {
            "expected_monthly_usd": self.cost.expected_monthly_usd,
            "worst_case_monthly_usd": self.cost.worst_case_monthly_usd,
            "negotiated_prices": self.negotiated,
            "warnings": self.warnings,
        }

    def policy_json(self) -> dict[str, Any]:
        return {"config": self.policy_config, "violations": [v.to_json() for v in self.violations],
                "mandatory": len(self.mandatory)}


def default_policy_config(root: Path, environment: str) -> Path:
    """The budget file of an environment read from the parsed stack config (never a path a value could steer)."""
    if environment not in ENVIRONMENTS:
        raise GateError(f"ai-infra:environment: {environment!r} is not an environment; expected one of "
                        f"{', '.join(ENVIRONMENTS)} (it chooses policies/budgets/<environment>.json)")
    return root / "policies" / "budgets" / f"{environment}.json"


def _names(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])")


def negotiated_notes(cost: StackCost, today: dt.date | None = None) -> tuple[list[str], list[str]]:
    """(negotiated prices the estimate used, warnings for expired ones it would have used)."""
    try:
        entries = negotiated_prices()
    except NegotiatedPriceError:
        return [], []  # every line that needed one is already unpriced, with the file's problems as reason
    today = today or dt.date.today()
    bases = [f"{line.basis} | {line.worst_basis}" for line in cost.lines]
    used, warnings = [], []
    for entry in entries:
        if not entry.applies_in(cost.region):
            continue
        if not entry.expired(today) and any(f"{entry.name} negotiated" in b for b in bases):
            used.append(entry.describe())
        elif entry.expired(today) and any(_names(entry.name).search(b) for b in bases):
            warnings.append(f"negotiated price {entry.describe()} has expired; {entry.name} is priced at its "
                            "list price")
    return used, warnings


def price_plan(plan: Any) -> StackCost:
    """Price a planned stack with its own region and `ai-infra:usage` block."""
    region = str(plan.config.get("aws:region") or plan.config.get("gcp:region") or "")
    try:
        usage = parse_usage(plan.config.get("ai-infra:usage"), "ai-infra:usage")
    except UsageError as exc:
        raise GateError("\n".join(exc.problems)) from None
    return estimate_stack(to_cost_resources(plan.resources), region, usage)


def gate_plan(plan: Any, root: Path, policy_config: Path | None = None, run_policies: bool = True) -> GateResult:
    environment = str(plan.config.get("ai-infra:environment") or "")
    cost = price_plan(plan)
    path = policy_config or default_policy_config(root, environment) if run_policies else None
    result = GateResult(plan.stack, environment, cost, _rel(path, root) if path is not None else None)
    result.negotiated, result.warnings = negotiated_notes(cost)
    if path is not None:
        from aiinfra.policyhost.host import PolicyPackError

        try:
            doc = load_policy_config_file(path)
            pack: PackResult = run_policy_pack(root / "policies", pack_resources(plan.resources), project=plan.project,
                                               stack=plan.stack, config=plan.config, policy_config=doc,
                                               config_where=_rel(path, root))
        except PolicyPackError as exc:
            raise GateError(str(exc)) from None
        result.violations = pack.violations
    return result


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


# ----------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------


def render_table(result: GateResult, top: int = 5) -> str:
    c = result.cost
    lines = ["", f"Cost (region {c.region}, 730 h/month, list prices):",
             f"  expected   {money(c.expected_monthly_usd)}/month",
             f"  worst case {money(c.worst_case_monthly_usd)}/month (every group at max size, around the clock)", ""]
    priced = sorted((x for x in c.lines if x.status is Status.PRICED and x.monthly_usd > 0),
                    key=lambda x: x.monthly_usd, reverse=True)
    width = max((len(x.name) for x in priced[:top]), default=10)
    for x in priced[:top]:
        lines.append(f"  {x.name:<{width}}  {money(x.monthly_usd):>10}/month  {x.basis}")
    for x in c.unpriced:
        lines.append(f"  {x.name:<{width}}  {'UNPRICED':>10}        {x.reason}")
    if result.policy_config is not None:
        lines += ["", f"Policies ({result.policy_config}): "
                  + ("no violations" if not result.violations else
                     f"{len(result.mandatory)} mandatory, {len(result.violations) - len(result.mandatory)} advisory")]
        for v in result.violations:
            where = f" [{v.urn.rsplit('::', 1)[-1]}]" if v.urn else ""
            lines.append(f"  {v.level.upper():<9} {v.policy}{where}: {v.message}")
    lines += _price_notes(result)
    return "\n".join(lines)


def _price_notes(result: GateResult) -> list[str]:
    """Negotiated prices used and expired ones skipped: they end the report (the PR comment keeps its tail)."""
    out = []
    if result.negotiated:
        out += ["", "Negotiated prices used (aiinfra/catalog/data/negotiated_prices.json):"]
        out += [f"  {n}" for n in result.negotiated]
    out += [f"WARNING {w}" for w in result.warnings]
    return out


def render_markdown(result: GateResult, top: int = 5) -> str:
    """A pull-request comment: totals, top drivers, violations."""
    c = result.cost
    verdict = "blocked" if result.mandatory else "passes"
    out = [f"### Cost and policy gate: `{result.stack}` ({result.environment}) {verdict}", "",
           "| | monthly |", "|---|---:|",
           f"| expected | **{money(c.expected_monthly_usd)}** |",
           f"| worst case (max size, 730 h) | {money(c.worst_case_monthly_usd)} |", ""]
    drivers = c.top_drivers(top)
    if drivers:
        out += ["**Top cost drivers**", "", "| resource | monthly | basis |", "|---|---:|---|"]
        out += [f"| `{d.name}` | {money(d.monthly_usd)} | {d.basis} |" for d in drivers]
        out.append("")
    if c.unpriced:
        out += ["**Unpriced** (blocks the change until priced)", ""]
        out += [f"- `{u.name}` ({u.type}): {u.reason}" for u in c.unpriced]
        out.append("")
    if result.policy_config is not None:
        if result.violations:
            out += [f"**Policy violations** (`{result.policy_config}`)", "", "| level | policy | resource | message |",
                    "|---|---|---|---|"]
            for v in result.violations:
                res = f"`{v.urn.rsplit('::', 1)[-1]}`" if v.urn else "stack"
                out.append(f"| {v.level} | `{v.policy}` | {res} | {v.message.replace('|', '/')} |")
        else:
            out.append(f"No policy violations (`{result.policy_config}`).")
        out.append("")
    out += [f"> :warning: {w}" for w in result.warnings]
    if result.warnings:
        out.append("")
    if result.negotiated:
        out += ["**Negotiated prices used** (`aiinfra/catalog/data/negotiated_prices.json`, owned by finance)", ""]
        out += [f"- {n}" for n in result.negotiated]
        out.append("")
    prices = "List and negotiated prices" if result.negotiated else "List prices"
    out.append(f"<sub>{prices}, region {c.region}; usage assumptions: "
               + ", ".join(f"{k}={v}" for k, v in c.usage.items() if k != "negotiatedPrices") + "</sub>")
    return "\n".join(out)

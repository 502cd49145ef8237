"""The budget of an environment, checked over every stack of that environment together.

A budget file (`policies/budgets/<env>.json`) is an environment's: the pack checks each
stack against it alone, and this check sums every stack whose parsed `ai-infra:environment`
is that environment, so three dev stacks each under the dev budget but over it together
fail. It also lists stacks for CI from the parsed config (never a regex over YAML text), and
at deploy it compares the stacks the state backend holds with the stack files, so a stack
that is deployed but no longer described cannot spend outside the sum.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiinfra.costs.model import StackCost, money
from aiinfra.offline import load_stack_config, run_plan
from aiinfra.offline.project import stack_names
from aiinfra.policyhost import ENVIRONMENTS
from aiinfra.policyhost.gate import GateError, _rel, default_policy_config, price_plan
from aiinfra.policyhost.host import PolicyPackError, load_policy_config_file

CLOUDS = ("aws", "gcp")


@dataclass(frozen=True)
class StackRow:
    """One stack as CI sees it: name, environment and cloud, read from its parsed config."""

    stack: str
    environment: str
    cloud: str

    def to_json(self) -> dict[str, str]:
        return {"stack": self.stack, "environment": self.environment, "cloud": self.cloud}


def stack_rows(root: Path) -> list[StackRow]:
    """Every stack file of the project with its environment and cloud; a bad or missing value is a GateError."""
    rows, problems = [], []
    for name in stack_names(root):
        values = load_stack_config(root, name).values
        env, cloud = values.get("ai-infra:environment"), values.get("ai-infra:cloud", "aws")
        if env not in ENVIRONMENTS:
            problems.append(f"stack {name}: ai-infra:environment is {env!r}; expected one of {', '.join(ENVIRONMENTS)}")
        if cloud not in CLOUDS:
            problems.append(f"stack {name}: ai-infra:cloud is {cloud!r}; expected one of {', '.join(CLOUDS)}")
        rows.append(StackRow(name, str(env), str(cloud)))
    if problems:
        raise GateError("\n".join(problems))
    return rows


def matrix(root: Path, environment: str | None = None) -> dict[str, list[dict[str, str]]]:
    """The GitHub Actions matrix: `{"include": [{"stack", "environment", "cloud"}, ...]}`."""
    return {"include": [r.to_json() for r in stack_rows(root) if environment in (None, r.environment)]}


@dataclass(frozen=True)
class StackFigures:
    stack: str
    cloud: str
    expected_monthly_usd: float
    worst_case_monthly_usd: float
    unpriced: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "cloud": self.cloud, "expected_monthly_usd": self.expected_monthly_usd,
                "worst_case_monthly_usd": self.worst_case_monthly_usd, "unpriced": list(self.unpriced)}

    @classmethod
    def of(cls, stack: str, cloud: str, cost: StackCost) -> StackFigures:
        return cls(stack, cloud, cost.expected_monthly_usd, cost.worst_case_monthly_usd,
                   tuple(f"{line.name} ({line.type}): {line.reason}" for line in cost.unpriced))


@dataclass
class EnvironmentResult:
    environment: str
    budget_file: str
    monthly_limit_usd: float
    worst_case_limit_usd: float
    stacks: list[StackFigures] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    @property
    def expected_monthly_usd(self) -> float:
        return round(sum(s.expected_monthly_usd for s in self.stacks), 2)

    @property
    def worst_case_monthly_usd(self) -> float:
        return round(sum(s.worst_case_monthly_usd for s in self.stacks), 2)

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "budget_file": self.budget_file,
                "monthly_limit_usd": self.monthly_limit_usd, "worst_case_limit_usd": self.worst_case_limit_usd,
                "expected_monthly_usd": self.expected_monthly_usd,
                "worst_case_monthly_usd": self.worst_case_monthly_usd,
                "stacks": [s.to_json() for s in self.stacks], "violations": self.violations,
                "ok": not self.violations}


def _limit(doc: dict[str, Any], policy: str, where: str) -> float:
    entry = doc.get(policy)
    value = entry.get("monthlyLimitUsd") if isinstance(entry, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise GateError(f"{where}: {policy}.monthlyLimitUsd is {value!r}; the environment budget needs a finite "
                        "number >= 0")
    return float(value)


def deployed_stacks(text: str, where: str = "--deployed") -> dict[str, int]:
    """Stack name -> resource count from `pulumi stack ls --json` (Pulumi Cloud names are org/project/stack)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GateError(f"{where}: not the JSON of `pulumi stack ls --json` ({exc.msg})") from None
    if not isinstance(doc, list) or not all(isinstance(s, dict) and isinstance(s.get("name"), str) for s in doc):
        raise GateError(f"{where}: expected a list of stacks with a 'name' (`pulumi stack ls --json`)")
    out = {}
    for s in doc:
        count = s.get("resourceCount")
        out[s["name"].rsplit("/", 1)[-1]] = int(count) if isinstance(count, int) else -1
    return out


def gate_environment(root: Path, environment: str, policy_config: Path | None = None,
                     deployed: dict[str, int] | None = None) -> EnvironmentResult:
    """Sum every stack of `environment` and check the totals against its budget file.

    `deployed` (from the state backend at deploy time) adds: a stack that holds resources but
    has no stack file is spending the gate cannot see, which is a violation.
    """
    if environment not in ENVIRONMENTS:
        raise GateError(f"--environment {environment!r}: expected one of {', '.join(ENVIRONMENTS)}")
    path = policy_config or default_policy_config(root, environment)
    where = _rel(path, root)
    try:
        doc = load_policy_config_file(path)
    except PolicyPackError as exc:
        raise GateError(str(exc)) from None
    result = EnvironmentResult(environment, where, _limit(doc, "stack-monthly-budget", where),
                               _limit(doc, "stack-worst-case-budget", where))
    named = (doc.get("budget-environment") or {}).get("environment") if isinstance(
        doc.get("budget-environment"), dict) else None
    if named != environment:
        result.violations.append(f"{where} is for environment {named!r}, not {environment!r}: each environment is "
                                 f"gated with its own file (budget-environment.environment)")
    rows = [r for r in stack_rows(root) if r.environment == environment]
    for row in rows:
        planned = run_plan(load_stack_config(root, row.stack))
        result.stacks.append(StackFigures.of(row.stack, row.cloud, price_plan(planned)))
    _judge(result)
    if deployed is not None:
        described = set(stack_names(root))
        for name, count in sorted(deployed.items()):
            if name not in described and count != 0:
                result.violations.append(
                    f"stack {name} is deployed ({count if count > 0 else 'unknown'} resources) but has no stack "
                    f"file stacks/Pulumi.{name}.yaml: its spending is outside every environment's sum; destroy it "
                    "or add its file")
    return result


def _judge(result: EnvironmentResult) -> None:
    env, where = result.environment, result.budget_file
    listing = ", ".join(f"{s.stack} {money(s.expected_monthly_usd)}" for s in result.stacks) or "no stacks"
    expected, worst = result.expected_monthly_usd, result.worst_case_monthly_usd
    if not math.isfinite(expected) or expected > result.monthly_limit_usd:
        result.violations.append(
            f"expected monthly cost of all {env} stacks {money(expected)} ({listing}) exceeds the {env} budget "
            f"monthlyLimitUsd {money(result.monthly_limit_usd)} in {where} by "
            f"{money(expected - result.monthly_limit_usd)}")
    if not math.isfinite(worst) or worst > result.worst_case_limit_usd:
        result.violations.append(
            f"worst-case monthly cost of all {env} stacks {money(worst)} exceeds the {env} ceiling "
            f"stack-worst-case-budget.monthlyLimitUsd {money(result.worst_case_limit_usd)} in {where} by "
            f"{money(worst - result.worst_case_limit_usd)}")
    for s in result.stacks:
        for line in s.unpriced:
            result.violations.append(f"stack {s.stack}: {line} (an unpriced line makes the sum unknown)")


def render_table(result: EnvironmentResult) -> str:
    lines = [f"Environment {result.environment} ({result.budget_file}): "
             + ("passes" if not result.violations else "blocked"), "",
             f"  {'stack':<16} {'expected':>14} {'worst case':>14}"]
    lines += [f"  {s.stack:<16} {money(s.expected_monthly_usd):>14} {money(s.worst_case_monthly_usd):>14}"
              for s in result.stacks]
    lines += [f"  {'total':<16} {money(result.expected_monthly_usd):>14} {money(result.worst_case_monthly_usd):>14}",
              f"  {'limit':<16} {money(result.monthly_limit_usd):>14} {money(result.worst_case_limit_usd):>14}"]
    lines += [f"  MANDATORY {v}" for v in result.violations]
    return "\n".join(lines)


def render_markdown(result: EnvironmentResult) -> str:
    verdict = "blocked" if result.violations else "passes"
    out = [f"### Environment `{result.environment}`: all stacks together {verdict}", "",
           "| stack | expected | worst case |", "|---|---:|---:|"]
    out += [f"| `{s.stack}` | {money(s.expected_monthly_usd)} | {money(s.worst_case_monthly_usd)} |"
            for s in result.stacks]
    out += [f"| **total** | **{money(result.expected_monthly_usd)}** | {money(result.worst_case_monthly_usd)} |",
            f"| limit (`{result.budget_file}`) | {money(result.monthly_limit_usd)} | "
            f"{money(result.worst_case_limit_usd)} |", ""]
    out += [f"- :x: {v}" for v in result.violations]
    return "\n".join(out)


"""Finance alone owns the budget files: the last matching CODEOWNERS rule must name only finance."""

from __future__ import annotations

import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def owners_of(path: str) -> list[str]:
    """GitHub's rule: the last pattern that matches the path decides its owners."""
    owners: list[str] = []
    for line in (ROOT / "CODEOWNERS").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pattern, *names = line.split()
        anchored = pattern.lstrip("/")
        if pattern == "*" or fnmatch.fnmatch(path, anchored + "*" if anchored.endswith("/") else anchored):
            owners = names
    return owners


def test_budget_files_are_owned_by_finance_alone() -> None:
    for budget in sorted((ROOT / "policies" / "budgets").glob("*.json")):
        assert owners_of(budget.relative_to(ROOT).as_posix()) == ["@ai-infra/finance"], budget.name


def test_policy_rules_need_platform_or_finance() -> None:
    assert owners_of("policies/rules/stack_monthly_budget.py") == ["@ai-infra/platform", "@ai-infra/finance"]
    assert owners_of("components/spec.py") == ["@ai-infra/platform"]

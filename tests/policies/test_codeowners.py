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


def test_what_prices_or_judges_needs_finance_and_the_rest_platform() -> None:
    # Any one listed owner can approve, so finance must be the only owner named where prices are set.
    for path in ("policies/rules/stack_monthly_budget.py", "policies/__main__.py", "aiinfra/costs/model.py",
                 "aiinfra/catalog/data/prices_aws.json", "aiinfra/catalog/data/tpu.json",
                 "aiinfra/policyhost/host.py", ".github/workflows/deploy-stack.yml", "CODEOWNERS"):
        assert owners_of(path) == ["@ai-infra/finance"], path
    assert owners_of("components/spec.py") == ["@ai-infra/platform"]
    assert owners_of(".github/workflows/images.yml") == ["@ai-infra/platform"]

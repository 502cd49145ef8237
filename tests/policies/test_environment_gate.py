"""`aiinfra gate`: each environment's budget over all its stacks, the CI matrix, and what is deployed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiinfra.cli import main
from aiinfra.policyhost.environment import EnvironmentResult, StackFigures, _judge, deployed_stacks
from aiinfra.policyhost.gate import GateError
from tests.conftest import ROOT


def test_dev_stacks_together_and_a_deployed_stack_without_a_file(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    listing = tmp_path / "stacks.json"
    listing.write_text(json.dumps([{"name": "acme/ai-infra/dev", "resourceCount": 40},
                                   {"name": "acme/ai-infra/dev-old", "resourceCount": 12},
                                   {"name": "acme/ai-infra/scratch", "resourceCount": 0}]))
    code = main(["gate", "--environment", "dev", "--format", "json", "--project-dir", str(ROOT),
                 "--deployed", str(listing)])
    report = json.loads(capsys.readouterr().out)
    assert [s["stack"] for s in report["stacks"]] == ["dev", "gcp-dev"]
    assert report["expected_monthly_usd"] == round(sum(s["expected_monthly_usd"] for s in report["stacks"]), 2)
    assert report["expected_monthly_usd"] < report["monthly_limit_usd"] == 4500
    # Only the stack that holds resources and has no file is reported; an empty one is not spending.
    assert report["violations"] == [
        "stack dev-old is deployed (12 resources) but has no stack file stacks/Pulumi.dev-old.yaml: its spending "
        "is outside every environment's sum; destroy it or add its file"]
    assert code == 1


def test_matrix_for_one_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", "--matrix", "--environment", "prod", "--project-dir", str(ROOT)]) == 0
    assert json.loads(capsys.readouterr().out) == {"include": [
        {"stack": "gcp-prod", "environment": "prod", "cloud": "gcp"},
        {"stack": "prod", "environment": "prod", "cloud": "aws"}]}


def test_nan_unpriced_and_the_wrong_budget_file_fail_the_sum() -> None:
    result = EnvironmentResult("dev", "policies/budgets/dev.json", 4500, 6000, [
        StackFigures("a", "aws", 100.0, 200.0),
        StackFigures("b", "aws", float("nan"), 200.0, ("db (aws:rds/instance:Instance): not in the table",))])
    _judge(result)
    assert [v.split(" (")[0] for v in result.violations] == [
        "expected monthly cost of all dev stacks $nan", "stack b: db"]


def test_budget_file_problems_and_bad_listings_are_exit_2(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    budget = tmp_path / "dev.json"
    budget.write_text(json.dumps({"stack-monthly-budget": {"monthlyLimitUsd": -1}}))
    assert main(["gate", "--environment", "dev", "--policy-pack-config", str(budget),
                 "--project-dir", str(ROOT)]) == 2
    assert "stack-monthly-budget.monthlyLimitUsd is -1" in capsys.readouterr().err
    with pytest.raises(GateError, match="expected a list of stacks"):
        deployed_stacks('{"name": "dev"}')
    assert main(["gate", "--project-dir", str(ROOT)]) == 2

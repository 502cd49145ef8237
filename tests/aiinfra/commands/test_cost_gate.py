"""`aiinfra plan` as the cost gate: cost and policy in JSON, markdown PR comment, exit 1 over budget."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aiinfra.catalog.prices import Market, hourly_price
from aiinfra.cli import main
from aiinfra.costs.inputs import fmt_usd

ROOT = Path(__file__).resolve().parents[3]
OVER = ["--set", "gpuGroups[0].instanceType=g6.48xlarge", "--set", "gpuGroups[0].extraInstanceTypes=[]",
        "--set", "gpuGroups[0].desiredCapacity=30", "--set", "gpuGroups[0].maxSize=40"]
HOURS = 60 * 730 / 168  # dev's GPU group runs on a 60 h/week schedule


def spot(instance_type: str) -> float:
    """The catalog's spot price the estimate must quote (dev runs in us-east-1)."""
    return hourly_price(instance_type, "us-east-1", Market.SPOT).hourly_usd


def dollars(text: str) -> int:
    return int(text.replace(",", ""))


def test_plan_json_has_cost_and_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", "dev", "--format", "json", "--project-dir", str(ROOT)]) == 0
    report = json.loads(capsys.readouterr().out)
    cost = report["cost"]
    assert cost["expected_monthly_usd"] < cost["worst_case_monthly_usd"]
    line = next(x for x in cost["lines"] if x["name"] == "ai-infra-dev-dev-l4-asg")
    assert set(line) >= {"urn", "type", "hourly_usd", "monthly_usd", "basis"}
    assert line["basis"] == f"1 x g6.xlarge spot x 260.7 h x {fmt_usd(spot('g6.xlarge'))} (schedule: 60 h/week)"
    assert report["policy"] == {"config": "policies/budgets/dev.json", "violations": [], "mandatory": 0}


def test_stack_pushed_over_budget_exits_1_naming_budget_estimate_and_drivers(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", "dev", "--project-dir", str(ROOT), *OVER]) == 1
    out = capsys.readouterr().out
    asg = 30 * HOURS * spot("g6.48xlarge")
    m = re.search(r"MANDATORY stack-monthly-budget: expected monthly cost \$([\d,]+) exceeds the budget "
                  r"monthlyLimitUsd \$4,500 in policies/budgets/dev.json by \$([\d,]+); top cost drivers: "
                  r"ai-infra-dev-dev-l4-asg \$([\d,]+)/month "
                  r"\(30 x g6.48xlarge spot x 260.7 h x (\$[\d.]+) \(schedule: 60 h/week\)\)", out)
    assert m, out
    expected, over, driver, price = dollars(m[1]), dollars(m[2]), dollars(m[3]), m[4]
    assert expected - 4500 == pytest.approx(over, abs=1) and driver == pytest.approx(asg, abs=1)
    assert price == fmt_usd(spot("g6.48xlarge")) and expected > driver


def test_markdown_comment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", "dev", "--format", "markdown", "--project-dir", str(ROOT), *OVER]) == 1
    md = capsys.readouterr().out
    assert md.startswith("### Cost and policy gate: `dev` (dev) blocked\n")
    m = re.search(r"\| expected \| \*\*\$([\d,]+)\*\* \|", md)
    assert m and dollars(m[1]) > 4500, md
    m = re.search(r"\| `ai-infra-dev-dev-l4-asg` \| \$([\d,]+) \| 30 x g6.48xlarge spot x 260.7 h x "
                  + re.escape(fmt_usd(spot("g6.48xlarge"))) + r" \(schedule: 60 h/week\) \|", md)
    assert m and dollars(m[1]) == pytest.approx(30 * HOURS * spot("g6.48xlarge"), abs=1), md
    assert "| mandatory | `stack-monthly-budget` | stack |" in md


def test_explicit_policy_pack_config_and_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps({"budget-environment": {"environment": "dev"},
                                  "stack-monthly-budget": {"monthlyLimitUsd": 10},
                                  "stack-worst-case-budget": {"monthlyLimitUsd": 1e6},
                                  "training-run-cost-cap": {"maxRunUsd": 1e6},
                                  "accelerator-allowlist": {"allowed": ["l4"]},
                                  "max-accelerators": {"maxPerGroup": 99, "maxPerStack": 99}}))
    assert main(["plan", "--stack", "dev", "--project-dir", str(ROOT), "--policy-pack-config", str(strict)]) == 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"stack-monthly-budget": {"monthlyLimitUsd": -1}}))
    capsys.readouterr()
    assert main(["plan", "--stack", "dev", "--project-dir", str(ROOT), "--policy-pack-config", str(bad)]) == 2
    assert f"{bad}: stack-monthly-budget.monthlyLimitUsd: -1 is less than the minimum of 0" in capsys.readouterr().err


def test_every_stack_passes_its_environment_budget(capsys: pytest.CaptureFixture[str]) -> None:
    from aiinfra.offline.project import stack_names

    for stack in stack_names(ROOT):
        assert main(["plan", "--stack", stack, "--format", "json", "--project-dir", str(ROOT)]) == 0, stack
        report = json.loads(capsys.readouterr().out)
        assert [v for v in report["policy"]["violations"] if v["level"] == "mandatory"] == [], stack
        assert not report["cost"]["unpriced"], stack

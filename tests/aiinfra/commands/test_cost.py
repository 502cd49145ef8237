"""`aiinfra cost diff` between a git ref and the working tree; `aiinfra cost report` for finance."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aiinfra.catalog.prices import Market, hourly_price
from aiinfra.cli import main
from aiinfra.commands.cost import Budget, StackReport, chart_rows, diff_costs, read_budgets, report_table, write_chart
from aiinfra.costs import CostResource, estimate_stack
from aiinfra.costs.inputs import fmt_usd
from aiinfra.costs.model import Category, CostLine, StackCost, Status

ROOT = Path(__file__).resolve().parents[3]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A throwaway repo with the program and one stack committed, so the diff has a base ref."""
    dst = tmp_path / "repo"
    dst.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, dst / name)
    shutil.copytree(ROOT / "components", dst / "components", ignore=shutil.ignore_patterns("__pycache__"))
    (dst / "stacks").mkdir()
    shutil.copy(ROOT / "stacks" / "Pulumi.dev.yaml", dst / "stacks" / "Pulumi.dev.yaml")
    _git(dst, "init", "-q")
    _git(dst, "add", ".")
    _git(dst, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "base")
    return dst


def test_diff_shows_the_change_per_resource_and_in_total(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = repo / "stacks" / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("maxSize: 2", "maxSize: 6").replace("desiredCapacity: 1",
                                                                                     "desiredCapacity: 3"))
    assert main(["cost", "diff", "--base", "HEAD", "--stack", "dev", "--format", "json",
                 "--project-dir", str(repo)]) == 0
    report = json.loads(capsys.readouterr().out)
    asg = next(r for r in report["resources"] if r["name"] == "ai-infra-dev-dev-l4-asg")
    assert asg["change"] == "changed"
    g6 = hourly_price("g6.xlarge", "us-east-1", Market.SPOT).hourly_usd  # the catalog's, not a copy
    assert asg["base_basis"] == f"1 x g6.xlarge spot x 260.7 h x {fmt_usd(g6)} (schedule: 60 h/week)"
    assert asg["head_basis"] == f"3 x g6.xlarge spot x 260.7 h x {fmt_usd(g6)} (schedule: 60 h/week)"
    assert asg["delta_monthly_usd"] == pytest.approx(2 * g6 * 60 * 730 / 168, abs=0.01)
    assert report["delta_monthly_usd"] == pytest.approx(report["head_monthly_usd"] - report["base_monthly_usd"],
                                                        abs=0.01)
    assert main(["cost", "diff", "--base", "HEAD", "--stack", "dev", "--format", "markdown",
                 "--project-dir", str(repo)]) == 0
    md = capsys.readouterr().out
    assert md.startswith("### Cost diff: `dev` vs `HEAD`")
    assert "| `ai-infra-dev-dev-l4-asg` | changed |" in md


def test_diff_on_a_broken_stack_prints_its_problems_as_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The working tree is planned in another interpreter; its problems come back with every field."""
    stack = repo / "stacks" / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("maxSize: 2", "maxSize: lots"))
    assert main(["cost", "diff", "--base", "HEAD", "--stack", "dev", "--format", "json",
                 "--project-dir", str(repo)]) == 2
    captured = capsys.readouterr()
    [problem] = json.loads(captured.out)["problems"]
    assert problem["path"] == "gpuGroups[0].maxSize"
    assert "lots" in problem["message"]
    assert captured.err.startswith("error: invalid stack configuration (1 problem):\n  - gpuGroups[0].maxSize:")


def test_diff_with_unknown_ref_exits_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "diff", "--base", "no-such-ref", "--stack", "dev", "--project-dir", str(repo)]) == 2
    assert "cannot check out --base 'no-such-ref'" in capsys.readouterr().err


def test_diff_costs_added_and_removed() -> None:
    a = CostResource("urn:a", "aws:ec2/eip:Eip", "a", {})
    b = CostResource("urn:b", "aws:ec2/eip:Eip", "b", {})
    changes = {c.urn: c for c in diff_costs(estimate_stack([a], "us-east-1"), estimate_stack([b], "us-east-1"))}
    assert (changes["urn:a"].change, changes["urn:a"].delta) == ("removed", -3.65)
    assert (changes["urn:b"].change, changes["urn:b"].delta) == ("added", 3.65)


def test_report_writes_csv_json_and_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert main(["cost", "report", "--out", str(out), "--project-dir", str(ROOT)]) == 0
    rows = list(csv.DictReader((out / "costs.csv").open()))
    assert {r["stack"] for r in rows} >= {"dev", "staging", "prod"}
    assert all(r["status"] in ("priced", "free") for r in rows)
    # Who pays: the stack's tags, on every row.
    assert {(r["stack"], r["team"], r["cost_center"]) for r in rows if r["stack"] == "dev"} == {
        ("dev", "ml-platform", "cc-1234")}
    doc = json.loads((out / "costs.json").read_text())
    prod = doc["by_environment"]["prod"]
    assert prod["accelerators"] > prod["storage"] > 0
    total = sum(float(r["monthly_usd"]) for r in rows if r["environment"] == "prod")
    assert sum(prod.values()) == pytest.approx(total, abs=1.0)
    # Each environment against its budget file: the sum the gate checks, and what is left.
    dev = doc["environments"]["dev"]
    limit = json.loads((ROOT / "policies" / "budgets" / "dev.json").read_text())["stack-monthly-budget"]
    assert dev["budget_file"] == "policies/budgets/dev.json" and dev["monthly_limit_usd"] == limit["monthlyLimitUsd"]
    dev_total = sum(float(r["monthly_usd"]) for r in rows if r["environment"] == "dev")
    assert dev["expected_monthly_usd"] == pytest.approx(dev_total, abs=1.0)
    assert dev["headroom_usd"] == pytest.approx(dev["monthly_limit_usd"] - dev["expected_monthly_usd"])
    assert set(dev["by_stack"]) == {"dev", "gcp-dev"} and dev["by_cost_center"] == {
        "cc-1234": pytest.approx(dev["expected_monthly_usd"])}
    assert doc["prices_as_of"]["from"] <= doc["prices_as_of"]["to"]
    printed = capsys.readouterr().out
    assert f"list prices as of {doc['prices_as_of']['from']}" in printed
    assert "policies/budgets/prod.json" in printed
    png = (out / "costs-by-environment.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_chart_rows_split_by_stack_then_cost_center() -> None:
    def stack(name: str, cc: str, usd: float) -> StackReport:
        line = CostLine(f"urn:{name}", "aws:ec2/eip:Eip", name, Status.PRICED, Category.NETWORK, monthly_usd=usd)
        return StackReport(name, "dev", "aws", "t", cc, StackCost("us-east-1", [line]))

    rows = chart_rows([stack("a", "cc-1", 10.0), stack("b", "cc-2", 5.0), stack("c", "cc-1", 1.0)], "dev")
    assert [label.split("\n")[0] for label, _ in rows] == [
        "a (aws)", "b (aws)", "c (aws)", "cost-center cc-1", "cost-center cc-2", "TOTAL dev"]
    assert [cats["network"] for _, cats in rows] == [10.0, 5.0, 1.0, 11.0, 5.0, 16.0]


def test_report_without_matplotlib_writes_csv_and_json_and_says_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as in an install without [dev]
    line = CostLine("urn:a", "aws:ec2/eip:Eip", "a", Status.PRICED, Category.NETWORK, monthly_usd=1.0)
    stacks = [StackReport("a", "dev", "aws", "t", "cc", StackCost("us-east-1", [line]))]
    note = write_chart(stacks, {"dev": Budget("dev", "policies/budgets/dev.json", 10.0, 20.0)}, tmp_path / "c.png")
    assert note is not None and "matplotlib is not installed" in note and not (tmp_path / "c.png").exists()


def test_an_environment_without_a_budget_file_is_reported_without_a_line(tmp_path: Path) -> None:
    line = CostLine("urn:a", "aws:ec2/eip:Eip", "a", Status.PRICED, Category.NETWORK, monthly_usd=12.0)
    stacks = [StackReport("a", "dev", "aws", "t", "cc", StackCost("us-east-1", [line]))]
    budgets = read_budgets(tmp_path, ["dev"])  # no policies/budgets/dev.json there
    assert budgets["dev"].monthly_limit_usd is None
    assert "dev      total       $12.00, no budget file (policies/budgets/dev.json)" in report_table(stacks, budgets)
    assert write_chart(stacks, budgets, tmp_path / "c.png") is None and (tmp_path / "c.png").stat().st_size > 5000

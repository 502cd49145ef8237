"""`aiinfra cost comment --base REF`: the pull-request comment CI posts as it is."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from aiinfra.catalog.prices import Market, hourly_price
from aiinfra.cli import main
from aiinfra.commands.cost import Change
from aiinfra.commands.cost_comment import COMMENT_MARKER, Comment, StackChange, percent, render
from aiinfra.costs.inputs import fmt_usd
from aiinfra.costs.model import Category, CostLine, StackCost, Status
from aiinfra.policyhost.environment import EnvironmentResult, StackFigures
from aiinfra.policyhost.gate import GateResult
from aiinfra.policyhost.host import Violation

ROOT = Path(__file__).resolve().parents[3]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The program, the policy pack and budgets, and two dev stacks committed as the base."""
    dst = tmp_path / "repo"
    dst.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, dst / name)
    skip = shutil.ignore_patterns("__pycache__", ".venv")
    shutil.copytree(ROOT / "components", dst / "components", ignore=skip)
    shutil.copytree(ROOT / "policies", dst / "policies", ignore=skip)
    (dst / "stacks").mkdir()
    shutil.copy(ROOT / "stacks" / "Pulumi.dev.yaml", dst / "stacks" / "Pulumi.dev.yaml")
    shutil.copy(ROOT / "stacks" / "Pulumi.dev.yaml", dst / "stacks" / "Pulumi.dev2.yaml")
    _git(dst, "init", "-q")
    _git(dst, "add", ".")
    _git(dst, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "base")
    return dst


def _money(text: str) -> float:
    return float(text.replace("$", "").replace(",", "").replace("*", "").replace("+", ""))


def test_comment_totals_change_percent_headroom_and_drivers(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = repo / "stacks" / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("maxSize: 2", "maxSize: 6").replace("desiredCapacity: 1",
                                                                                     "desiredCapacity: 3"))
    (repo / "stacks" / "Pulumi.dev2.yaml").unlink()  # a stack removed by the change
    assert main(["cost", "comment", "--base", "HEAD", "--project-dir", str(repo)]) == 0
    md = capsys.readouterr().out
    assert md.splitlines()[0] == COMMENT_MARKER
    row = dict(zip(("stack", "env", "base", "head", "change", "pct", "worst", "policies"),
                   (c.strip() for c in next(x for x in md.splitlines() if x.startswith("| `dev` |")).split("|")[1:-1]),
                   strict=True))
    g6 = hourly_price("g6.xlarge", "us-east-1", Market.SPOT).hourly_usd  # the catalog's, not a copy
    asg_delta = 2 * g6 * 60 * 730 / 168  # two more g6.xlarge spot for 60 h/week
    base, head = _money(row["base"]), _money(row["head"])
    assert _money(row["change"]) == pytest.approx(head - base, abs=1.0)
    assert float(row["pct"].rstrip("%")) == pytest.approx(100 * (head - base) / base, abs=0.3)  # $ shown rounded
    assert row["policies"] == "passes"
    removed = next(x for x in md.splitlines() if x.startswith("| `dev2` |"))
    assert "| (removed) |" in removed and "| -100.0% |" in removed
    total = next(x for x in md.splitlines() if x.startswith("| **total** |")).split("|")
    # Across stacks: dev's change and dev2's whole base cost, in $ and %.
    assert _money(total[5].strip()) == pytest.approx(head - 2 * base, abs=2.0)
    assert re.search(r"Cost: monthly estimate down \*\*-\$[\d,]+\*\* \(-\d+\.\d%\)", md)
    # Headroom: the environment gate's own sum (dev only; dev2 is gone) against policies/budgets/dev.json.
    env = next(x for x in md.splitlines() if x.startswith("| dev | `dev` |")).split("|")
    assert _money(env[3].strip()) == pytest.approx(head, abs=1.0)
    assert env[4].strip() == "$4,500 (`policies/budgets/dev.json`)"
    assert _money(env[5].strip()) == pytest.approx(4500 - head, abs=1.0)
    driver = next(x for x in md.splitlines() if "| `ai-infra-dev-dev-l4-asg` | changed |" in x)
    assert _money(driver.split("|")[6].strip()) == pytest.approx(asg_delta, abs=1.0)
    assert f"3 x g6.xlarge spot x 260.7 h x {fmt_usd(g6)}" in driver and "1 x g6.xlarge spot x 260.7 h" in driver
    assert "Negotiated prices used: none" in md
    assert "No policy violations (`policies/budgets/dev.json`)." in md


def test_bad_base_still_prints_a_comment_and_exits_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "comment", "--base", "no-such-ref", "--project-dir", str(repo)]) == 2
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{COMMENT_MARKER}\n## Cost: not computed")
    assert "cannot check out --base 'no-such-ref'" in captured.out and "no-such-ref" in captured.err


def _line(name: str, usd: float) -> CostLine:
    return CostLine(f"urn:{name}", "aws:autoscaling/group:Group", name, Status.PRICED, Category.ACCELERATORS,
                    monthly_usd=usd, worst_monthly_usd=usd * 2, basis=f"{name} basis")


def test_render_blocked_over_budget_with_negotiated_prices() -> None:
    head = StackCost("us-east-1", [_line("big", 5000.0)])
    gate = GateResult("dev", "dev", head, "policies/budgets/dev.json",
                      [Violation("stack-monthly-budget", "mandatory", "", "expected $5,000 exceeds $4,500")],
                      negotiated=["p5.48xlarge $30/h (contract C-1, expires 2027-01-31)"],
                      warnings=["negotiated price p4d.24xlarge has expired"])
    s = StackChange("dev", "dev", StackCost("us-east-1", [_line("big", 1000.0)]), gate)
    s.changes = [Change("urn:big", "t", "big", "changed", 1000.0, 5000.0, "1 x", "5 x")]
    env = EnvironmentResult("dev", "policies/budgets/dev.json", 4500.0, 6000.0,
                            [StackFigures("dev", "aws", 5000.0, 10000.0)], ["expected over"])
    md = render(Comment("HEAD", "HEAD (abc1234)", [s], [env]))
    assert "## Cost: monthly estimate up **+$4,000** (+400.0%), $1,000 \u2192 $5,000 across 1 stacks; " \
           "gate **blocked**" in md
    assert "| `dev` | dev | $1,000 | $5,000 | **+$4,000** | +400.0% | $10,000 | :x: blocked (1 mandatory) |" in md
    assert "| **over by $500** | 111% |" in md
    assert "- `dev`: p5.48xlarge $30/h (contract C-1, expires 2027-01-31)" in md
    assert "- :warning: `dev`: negotiated price p4d.24xlarge has expired" in md
    assert "- :x: `dev` mandatory `stack-monthly-budget`: expected $5,000 exceeds $4,500" in md
    assert "and negotiated prices" in md


def test_a_stack_that_cannot_be_planned_blocks_and_leaves_the_change_unknown() -> None:
    ok = StackChange("a", "dev", StackCost("us-east-1", [_line("x", 10.0)]),
                     GateResult("a", "dev", StackCost("us-east-1", [_line("x", 10.0)]), None))
    broken = StackChange("b", "dev", error="cannot be planned: gpuGroups[0].maxSize: 'lots' is not a number")
    c = Comment("main", "main", [ok, broken], [])
    assert c.blocked
    md = render(c)
    assert "change unknown; gate **blocked**" in md
    assert "| `b` | dev | - | - | ? | ? | - | :x: plan failed |" in md
    assert "- :x: `b`: cannot be planned: gpuGroups[0].maxSize: 'lots' is not a number" in md


@pytest.mark.parametrize(("base", "head", "want"), [(100.0, 150.0, "+50.0%"), (100.0, 0.0, "-100.0%"),
                                                    (0.0, 10.0, "new"), (0.0, 0.0, "0%"), (100.0, 100.0, "0%")])
def test_percent(base: float, head: float, want: str) -> None:
    assert percent(base, head) == want

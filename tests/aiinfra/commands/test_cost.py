"""`aiinfra cost diff` between a git ref and the working tree; `aiinfra cost report` for finance."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from aiinfra.cli import main
from aiinfra.commands.cost import diff_costs
from aiinfra.costs import CostResource, estimate_stack

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
    assert asg["base_basis"] == "1 x g6.xlarge spot x 260.7 h x $0.338 (schedule: 60 h/week)"
    assert asg["head_basis"] == "3 x g6.xlarge spot x 260.7 h x $0.338 (schedule: 60 h/week)"
    assert asg["delta_monthly_usd"] == pytest.approx(2 * 0.338 * 60 * 730 / 168, abs=0.01)
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
    doc = json.loads((out / "costs.json").read_text())
    prod = doc["by_environment"]["prod"]
    assert prod["accelerators"] > prod["storage"] > 0
    total = sum(float(r["monthly_usd"]) for r in rows if r["environment"] == "prod")
    assert sum(prod.values()) == pytest.approx(total, abs=1.0)
    png = (out / "costs-by-environment.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000

"""The README's gate section and examples stay true: each guarantee's test exists, the examples still work."""

from __future__ import annotations

import ast
import json
import re
import shlex

import pytest

from aiinfra.cli import main
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.index("\n## ", start + 1)
    return README[start:end]


def test_every_guarantee_names_a_test_that_exists() -> None:
    rows = [line for line in _section("What the gate guarantees").splitlines()
            if line.startswith("| ") and not line.startswith(("| guarantee", "|---"))]
    assert len(rows) >= 15
    for row in rows:
        refs = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", row.split(" | ")[-1])
        assert refs, row
        for path, name in refs:
            tree = ast.parse((ROOT / path).read_text())
            assert name in {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}, f"{path}::{name}"


def test_the_budget_file_example_is_the_dev_budget_file() -> None:
    block = _section("Costs and policy gates").split("`policies/budgets/dev.json`:\n\n```json\n", 1)[1]
    shown = json.loads(block.split("```", 1)[0])
    real = json.loads((ROOT / "policies/budgets/dev.json").read_text())
    # The same policies and limits as finance's file (allowlist spellings may be updated on their own).
    assert set(shown) == set(real)
    for policy in ("budget-environment", "stack-monthly-budget", "stack-worst-case-budget", "max-accelerators"):
        assert shown[policy] == real[policy], policy


def test_the_over_budget_example_is_blocked_as_the_readme_says(capsys: pytest.CaptureFixture[str]) -> None:
    block = _section("Costs and policy gates").split("An over-budget change, offline (exit 1):\n\n```sh\n", 1)[1]
    command, *shown = block.split("```", 1)[0].strip().splitlines()
    argv = shlex.split(command)
    assert argv[0] == "aiinfra"
    assert main([*argv[1:], "--project-dir", str(ROOT)]) == 1
    out = capsys.readouterr().out
    for line in shown:
        expected = line.lstrip("# ").split("; ...")[0].split(" ...")[0]
        assert expected in out, expected

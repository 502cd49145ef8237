"""The benches start: each parses its arguments and resolves its imports (a broken bench is caught here, not
when someone next measures). `--help` runs after the module-level imports, so a missing image path fails it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("script", "option"),
    [("compression.py", "--teacher-hidden"), ("serving.py", "--teacher-hidden")],
)
def test_bench_help_runs(script: str, option: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert option in result.stdout


def test_bad_teacher_hidden_exits_2() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "serving.py"), "--teacher-hidden", "wide"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "--teacher-hidden" in result.stderr

"""The benches start: each parses its arguments and resolves its imports (a broken bench is caught here, not
when someone next measures). `--help` runs after the module-level imports, so a missing image path fails it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.mark.parametrize(
    ("script", "option"),
    [("compression.py", "--teacher-hidden"), ("serving.py", "--teacher-hidden")],
)
def test_bench_help_runs(script: str, option: str) -> None:
    result = _bench(script, "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert option in result.stdout


def test_bad_teacher_hidden_exits_2() -> None:
    result = _bench("serving.py", "--teacher-hidden", "wide")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "--teacher-hidden" in result.stderr


def test_plan_scale_replay_registers_the_plans_resources_with_their_inputs(tmp_path: Path) -> None:
    """`plan_scale.py --explain` splits input volume from the rest by replaying a plan as bare resources."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import plan_scale
    finally:
        sys.path.remove(str(ROOT / "bench"))
    cfg = plan_scale.load_stack_config(ROOT, "dev")
    plan = plan_scale.run_plan(cfg)
    replay = plan_scale.run_plan(plan_scale.replay_config(cfg, tmp_path))
    ours = sorted((r.name, r.custom, json.dumps(r.inputs, sort_keys=True)) for r in plan.resources
                  if r.type != "pulumi:pulumi:Stack")
    bare = sorted((r.name, r.custom, json.dumps(r.inputs, sort_keys=True)) for r in replay.resources
                  if r.type != "pulumi:pulumi:Stack")
    assert bare == ours
    assert all(r.type.startswith("bench:index:") for r in replay.resources if r.type != "pulumi:pulumi:Stack")

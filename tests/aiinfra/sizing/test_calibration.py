"""Sizing against published training runs: expected accelerator-hours within 30% of what each run reported.

The runs, their sources and which ones calibrate an MFU band live in `data/published_runs.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aiinfra.sizing import TrainingGoal, plan_training

DATA = json.loads((Path(__file__).parent / "data" / "published_runs.json").read_text())


def _estimate(run: dict[str, Any]) -> tuple[float, float]:
    plan = plan_training(TrainingGoal(params=run["params"], tokens=run["tokens"], accelerators=(run["accelerator"],),
                                      regions=("us-east-1",)))
    c = plan.candidates[0]
    return c.accelerator_hours, c.pessimistic_hours * c.count


@pytest.mark.parametrize("run", DATA["runs"], ids=[r["name"] for r in DATA["runs"]])
def test_expected_accelerator_hours_within_tolerance_of_the_published_run(run: dict[str, Any]) -> None:
    expected, pessimistic = _estimate(run)
    reported = run["reported_accelerator_hours"]
    error = expected / reported - 1
    assert abs(error) <= DATA["tolerance"], f"{run['name']}: {expected:,.0f} vs {reported:,.0f} ({error:+.1%})"
    # the pessimistic figure is the larger one, and it covers every run the model under-estimates
    assert pessimistic > expected
    assert pessimistic >= reported * (1 - DATA["tolerance"])


def test_every_run_has_a_source_and_a_role() -> None:
    for run in DATA["runs"]:
        assert run["source"] and run["role"].split(" ")[0] in {"validation", "calibration"}
    # most runs must be independent of the figures they test
    roles = [r["role"].split(" ")[0] for r in DATA["runs"]]
    assert roles.count("validation") >= 2 * roles.count("calibration")

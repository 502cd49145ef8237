"""Golden snapshots of the rendered training job and server per named case; refresh with UPDATE_GOLDEN=1."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

GOLDEN = Path(__file__).parent / "golden"
CASES = ("base", "multinode", "tpu", "spot", "torchtitan", "vllm-h100", "jax-v5e", "queue")


@pytest.mark.parametrize("case", CASES)
def test_rendered_workloads_match_golden(case: str, render_case: Callable[[str], list[dict[str, Any]]]) -> None:
    text = yaml.safe_dump_all(render_case(case), sort_keys=True)
    path = GOLDEN / f"{case}.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.is_file(), f"{path} is missing; create it on purpose with UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{case}: rendered manifests differ from {path.name}; if intended, " \
                                     "rerun with UPDATE_GOLDEN=1 and review the diff"

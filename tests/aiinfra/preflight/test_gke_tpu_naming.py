"""Preflight reads GKE TPU pools through the catalog's one GKE TPU naming rule (single-host machines too)."""

from __future__ import annotations

import pytest

from aiinfra.preflight.gcp import _gke_tpu


@pytest.mark.parametrize(("machine", "expected"), [
    ("ct5lp-hightpu-4t", ("tpu-v5-lite-podslice", 4)),
    ("ct5lp-hightpu-8t", ("tpu-v5-lite-podslice", 8)),
    ("ct5p-hightpu-4t", ("tpu-v5p-slice", 4)),
    ("ct6e-standard-1t", ("tpu-v6e-slice", 1)),
    ("a3-highgpu-8g", ("", 0)),
])
def test_gke_tpu_machine_to_accelerator_label_and_chips(machine: str, expected: tuple[str, int]) -> None:
    assert _gke_tpu(machine) == expected

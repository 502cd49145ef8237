"""Canonical accelerator names: every cloud's spelling resolves to one name, each written once in the catalog."""

from __future__ import annotations

import pytest

from aiinfra.catalog import aws_instance_types, load_json
from aiinfra.catalog.canonical import (
    accelerator_aliases,
    accelerator_names,
    canonical_accelerator,
    machine_accelerators,
)
from aiinfra.catalog.gcp import gcp_machine_types, n1_accelerators, n1_machine_types
from aiinfra.catalog.tpu import tpu_generations


@pytest.mark.parametrize(("spelling", "canonical"), [
    ("h100", "h100"),
    ("nvidia-h100-80gb", "h100"),
    ("nvidia-h100-mega-80gb", "h100"),
    ("nvidia-h200-141gb", "h200"),
    ("nvidia-tesla-a100", "a100-40gb"),
    ("nvidia-a100-80gb", "a100-80gb"),
    ("nvidia-l4", "l4"),
    ("nvidia-tesla-t4", "t4"),
    ("v5e", "v5e"),
    ("v5litepod", "v5e"),
    ("V5LITE_POD", "v5e"),
    ("tpu-v5-lite-podslice", "v5e"),
    ("tpu-v5e", "v5e"),
    ("tpu-v5p-slice", "v5p"),
    ("tpu-v4-podslice", "v4"),
    ("tpu-v6e-slice", "v6e"),
])
def test_each_cloud_spelling_resolves_to_one_canonical_name(spelling: str, canonical: str) -> None:
    assert canonical_accelerator(spelling) == canonical


def test_unknown_names_resolve_to_none() -> None:
    assert canonical_accelerator("h10") is None
    assert canonical_accelerator("") is None


def test_every_alias_names_a_canonical_accelerator() -> None:
    names = accelerator_names()
    assert set(accelerator_aliases().values()) <= names
    assert all(accelerator_aliases()[n] == n for n in names)


def test_every_accelerator_the_hardware_rows_name_is_canonical() -> None:
    names = accelerator_names()
    assert {t.accelerator for t in aws_instance_types().values()} <= names
    assert {m.accelerator for m in gcp_machine_types().values()} <= names
    assert {a.accelerator for a in n1_accelerators().values()} <= names
    assert set(tpu_generations()) <= names


def test_every_gcp_gpu_machine_names_its_compute_engine_accelerator_type() -> None:
    for m in gcp_machine_types().values():
        assert m.accelerator_type.startswith("nvidia-"), m.name
        assert canonical_accelerator(m.accelerator_type) == m.accelerator


def test_every_priced_gcp_machine_in_a_gpu_family_has_a_hardware_row() -> None:
    # The price file holds prices only: a GPU machine priced without a gcp_machines.json row would
    # be priced with no GPUs, and the accelerator policies would not see them.
    families = {m.family for m in gcp_machine_types().values()}
    known = set(gcp_machine_types()) | set(n1_machine_types())
    priced = {r["name"] for r in load_json("prices_gcp.json")["machine_types"]}
    assert [n for n in priced - known if n.split("-", 1)[0] in families] == []
    assert all("includes_accelerator" not in r for r in load_json("prices_gcp.json")["machine_types"])


@pytest.mark.parametrize(("machine", "expected"), [
    ("p5.48xlarge", (8, "h100")),
    ("g6.xlarge", (1, "l4")),
    ("a3-megagpu-8g", (8, "h100")),
    ("g2-standard-24", (2, "l4")),
    ("ct5lp-hightpu-4t", (4, "v5e")),
    ("ct5lp-hightpu-8t", (8, "v5e")),
    ("ct5p-hightpu-4t", (4, "v5p")),
    ("n1-standard-8", (0, "")),
    ("m7i.large", (0, "")),
])
def test_machine_accelerators_on_every_cloud(machine: str, expected: tuple[int, str]) -> None:
    assert machine_accelerators(machine) == expected

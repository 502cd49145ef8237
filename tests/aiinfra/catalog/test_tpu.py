"""TPU accelerator-type arithmetic: chips, hosts and topology per generation, and the naming rule
(v4/v5p count TensorCores, v5e/v6e count chips)."""

from __future__ import annotations

import re

import pytest

from aiinfra.catalog.tpu import TpuTypeError, accelerator_types, topology, tpu_generations, tpu_slice

# (type, chips, hosts, topology) as Google's per-generation tables list them.
SLICES = [
    ("v4-8", 4, 1, "2x2x1"),
    ("v4-16", 8, 2, "2x2x2"),
    ("v4-32", 16, 4, "2x2x4"),
    ("v4-128", 64, 16, "4x4x4"),
    ("v4-1536", 768, 192, "8x8x12"),
    ("v4-4096", 2048, 512, "8x16x16"),
    ("v5litepod-1", 1, 1, "1x1"),
    ("v5litepod-4", 4, 1, "2x2"),
    ("v5litepod-8", 8, 1, "2x4"),
    ("v5litepod-16", 16, 4, "4x4"),
    ("v5litepod-32", 32, 8, "4x8"),
    ("v5litepod-256", 256, 64, "16x16"),
    ("v5p-8", 4, 1, "2x2x1"),
    ("v5p-128", 64, 16, "4x4x4"),
    ("v5p-256", 128, 32, "4x4x8"),
    ("v5p-1024", 512, 128, "8x8x8"),
    ("v5p-12288", 6144, 1536, "16x16x24"),
    ("v6e-1", 1, 1, "1x1"),
    ("v6e-8", 8, 1, "2x4"),
    ("v6e-16", 16, 4, "4x4"),
    ("v6e-128", 128, 32, "8x16"),
    ("v6e-256", 256, 64, "16x16"),
]


@pytest.mark.parametrize(("atype", "chips", "hosts", "topo"), SLICES, ids=[s[0] for s in SLICES])
def test_slice_shape_matches_googles_tables(atype: str, chips: int, hosts: int, topo: str) -> None:
    s = tpu_slice(atype)
    assert (s.chips, s.hosts, s.topology) == (chips, hosts, topo)


def test_suffix_counts_tensorcores_on_v4_and_v5p_and_chips_on_v5e_and_v6e() -> None:
    assert tpu_slice("v4-32").chips == 16
    assert tpu_slice("v5p-128").chips == 64
    assert tpu_slice("v5litepod-16").chips == 16
    assert tpu_slice("v6e-256").chips == 256
    assert tpu_slice("v5p-128").tensorcores == 128
    assert tpu_slice("v6e-256").tensorcores == 256


def test_every_listed_type_is_consistent() -> None:
    for atype, gen_name in accelerator_types().items():
        gen = tpu_generations()[gen_name]
        s = tpu_slice(atype)
        dims = [int(d) for d in s.topology.split("x")]
        product = 1
        for d in dims:
            product *= d
        assert product == s.chips, atype
        assert len(dims) == (3 if gen.ici_topology == "3d-torus" else 2), atype
        # Multi-host slices fill every host; single-host ones fit one VM.
        if s.multi_host:
            assert s.hosts * gen.chips_per_host == s.chips, atype
        else:
            assert s.chips <= gen.max_single_host_chips, atype


def test_single_host_limit_differs_by_generation() -> None:
    # Eight v5e/v6e chips share one VM; eight v5p chips already span two hosts.
    assert tpu_slice("v5litepod-8").hosts == 1
    assert tpu_slice("v6e-8").hosts == 1
    assert tpu_slice("v5p-16").hosts == 2


def test_unknown_size_names_what_the_number_counts() -> None:
    with pytest.raises(TpuTypeError) as info:
        tpu_slice("v5p-100")
    assert str(info.value) == ("'v5p-100' is not a v5p slice size; the number counts TensorCores and must be one of "
                               "8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 12288")
    with pytest.raises(TpuTypeError) as info:
        tpu_slice("v6e-2")
    assert str(info.value) == ("'v6e-2' is not a v6e slice size; the number counts chips and must be one of "
                               "1, 4, 8, 16, 32, 64, 128, 256")


def test_v5e_must_be_spelt_v5litepod() -> None:
    with pytest.raises(TpuTypeError) as info:
        tpu_slice("v5e-16")
    assert str(info.value) == ("'v5e-16' is not a TPU accelerator type; expected one of v4-N (v4), "
                               "v5litepod-N (v5e), v5p-N (v5p), v6e-N (v6e); did you mean 'v5litepod-16'?")


@pytest.mark.parametrize("bad", ["", "v5p", "v5p-", "tpu-v4-8", "v5p-128x", "V5P-128"])
def test_malformed_types_are_rejected(bad: str) -> None:
    with pytest.raises(TpuTypeError):
        tpu_slice(bad)


def test_topology_rejects_impossible_sizes() -> None:
    with pytest.raises(ValueError):
        topology(0, 3)
    with pytest.raises(ValueError):
        topology(10, 2)
    with pytest.raises(ValueError):
        topology(8, 4)


def test_generations_are_sourced_facts() -> None:
    gens = tpu_generations()
    assert set(gens) == {"v4", "v5e", "v5p", "v6e"}
    for g in gens.values():
        assert g.as_of == "2026-11-28"
        for url in (g.source, g.zones_source, g.runtime_source, g.spot_source, g.disk_source):
            assert url.startswith("https://cloud.google.com/tpu/docs/"), g.name
        assert g.zones and g.runtime_versions and g.valid_sizes == tuple(sorted(g.valid_sizes))
        assert all(re.match(r"^[a-z]+-[a-z]+\d+-[a-z]$", z) for z in g.zones), g.name
    assert (gens["v5p"].hbm_gib_per_chip, gens["v5p"].bf16_tflops_per_chip) == (95, 459)
    assert gens["v4"].preemptible and not gens["v6e"].preemptible


def test_importable_without_pulumi() -> None:
    import subprocess
    import sys

    code = ("import sys; sys.modules['pulumi'] = None; from aiinfra.catalog.tpu import tpu_slice; "
            "print(tpu_slice('v5p-128').chips)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "64"


def test_gke_machine_naming_round_trips_for_every_slice() -> None:
    from aiinfra.catalog.tpu import gke_machine_type, gke_tpu_machine

    for gen in tpu_generations().values():
        for size in gen.valid_sizes:
            s = tpu_slice(gen.accelerator_type(size))
            machine = gke_machine_type(s)
            found = gke_tpu_machine(machine)
            assert found is not None, machine
            generation, chips_per_node = found
            assert generation.name == gen.name
            assert chips_per_node == s.chips // s.hosts, (s.accelerator_type, machine)


@pytest.mark.parametrize(("accelerator_type", "machine"), [
    ("v5litepod-1", "ct5lp-hightpu-1t"),
    ("v5litepod-8", "ct5lp-hightpu-8t"),
    ("v5litepod-16", "ct5lp-hightpu-4t"),
    ("v5p-8", "ct5p-hightpu-4t"),
    ("v5p-128", "ct5p-hightpu-4t"),
    ("v6e-256", "ct6e-standard-4t"),
    ("v4-32", "ct4p-hightpu-4t"),
])
def test_gke_machine_type_of_a_slice(accelerator_type: str, machine: str) -> None:
    from aiinfra.catalog.tpu import gke_machine_type

    assert gke_machine_type(tpu_slice(accelerator_type)) == machine


@pytest.mark.parametrize(("generation", "chips", "accelerator_type"), [
    ("v4", 4, "v4-8"), ("v5p", 64, "v5p-128"), ("v5e", 16, "v5litepod-16"), ("v6e", 256, "v6e-256")])
def test_slice_type_names_a_slice_by_its_chips(generation: str, chips: int, accelerator_type: str) -> None:
    assert tpu_generations()[generation].slice_type(chips) == accelerator_type


def test_gke_tpu_machine_is_none_for_other_machines() -> None:
    from aiinfra.catalog.tpu import gke_tpu_machine

    assert gke_tpu_machine("a3-highgpu-8g") is None
    assert gke_tpu_machine("ct9x-hightpu-4t") is None

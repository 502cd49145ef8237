"""The sizing formulas against hand-computed cases (each expected value worked out in the comment)."""

from __future__ import annotations

import pytest

from aiinfra.sizing.assumptions import default_assumptions
from aiinfra.sizing.formulas import (
    GIB,
    ModelShape,
    Optimizer,
    Sharding,
    accelerator_hours,
    activation_bytes,
    allreduce_bytes_per_step,
    checkpoint_bytes,
    kv_bytes_per_token,
    lightest_sharding,
    memory_per_device_bytes,
    min_devices_to_fit,
    model_shape,
    show_number,
    training_flops,
    training_flops_from_samples,
)

A = default_assumptions()


def test_training_flops_is_six_n_d() -> None:
    # 6 x 7e9 x 2e12 = 8.4e22
    assert training_flops(7e9, 2e12, A) == pytest.approx(8.4e22)


def test_training_flops_from_samples_is_three_times_forward() -> None:
    # 3 x 1e6 samples x 4e9 forward FLOPs = 1.2e16
    assert training_flops_from_samples(1e6, 4e9, A) == pytest.approx(1.2e16)


def test_accelerator_hours_from_peak_and_mfu() -> None:
    # 8.4e22 / (989e12 x 0.40) = 2.1233e8 s = 58,981.5 h
    assert accelerator_hours(8.4e22, 989, 0.40) == pytest.approx(8.4e22 / (989e12 * 0.4) / 3600)
    assert accelerator_hours(8.4e22, 989, 0.40) == pytest.approx(58_981.5, rel=1e-4)


def test_model_shape_derived_from_params_matches_llama_7b_scale() -> None:
    # L = round((7e9 / (12 x 128^2))^(1/3)) = round(32.9) = 33; h = sqrt(7e9 / (12 x 33)) = 4204 -> 33 x 128 = 4224
    assert model_shape(7e9, A) == ModelShape(33, 4224, derived=True)


def test_model_shape_given_layers_derives_hidden() -> None:
    # h = sqrt(6.5e9 / (12 x 32)) = 4114 -> nearest multiple of 128: 4096 (LLaMA 7B's real shape)
    assert model_shape(6.5e9, A, layers=32) == ModelShape(32, 4096, derived=False)
    assert model_shape(6.5e9, A, layers=32, hidden=4000) == ModelShape(32, 4000, derived=False)


def test_activation_bytes_full_recompute_flash_attention() -> None:
    # s=4096, h=4096, L=32: kept 2 x 4096 x 4096 x 32 = 1,073,741,824; working 34 x 4096 x 4096 = 570,425,344
    shape = ModelShape(32, 4096, derived=False)
    assert activation_bytes(shape, 4096, A) == 1_073_741_824 + 570_425_344


@pytest.mark.parametrize(
    ("sharding", "devices", "expected_gb"),
    [
        # 7e9 params, Adam mixed precision: weights 2, grads 2, optimizer 12 bytes per param
        (Sharding.NONE, 8, 16 * 7),          # 112 GB whatever the count
        (Sharding.ZERO1, 8, (4 + 12 / 8) * 7),  # 38.5 GB
        (Sharding.ZERO2, 8, (2 + 14 / 8) * 7),  # 26.25 GB
        (Sharding.ZERO3, 8, 16 / 8 * 7),       # 14 GB
    ],
)
def test_memory_per_device_by_zero_stage(sharding: Sharding, devices: int, expected_gb: float) -> None:
    got = memory_per_device_bytes(7e9, devices, sharding, Optimizer.ADAM, 0.0, A)
    assert got == pytest.approx(expected_gb * 1e9)


def test_sgd_state_is_twelve_bytes_per_param() -> None:
    # 2 + 2 + 8 = 12 bytes per parameter, unsharded
    assert memory_per_device_bytes(1e9, 1, Sharding.NONE, Optimizer.SGD, 0.0, A) == pytest.approx(12e9)


def test_min_devices_to_fit_fully_sharded() -> None:
    # 70e9 x 16 B = 1.12e12 B; usable 72 GiB minus 4 GiB activations = 68 GiB = 73.01e9 B -> ceil(15.34) = 16
    usable = 80 * GIB * 0.9
    assert min_devices_to_fit(70e9, usable, 4 * GIB, Optimizer.ADAM, A) == 16


def test_min_devices_to_fit_none_when_activations_alone_overflow() -> None:
    assert min_devices_to_fit(1e9, 10 * GIB, 11 * GIB, Optimizer.ADAM, A) is None


def test_lightest_sharding_prefers_less_sharding() -> None:
    usable = 72 * GIB
    # 1e9 params: DDP needs 16 GB -> fits unsharded
    assert lightest_sharding(1e9, 8, usable, GIB, Optimizer.ADAM, A) is Sharding.NONE
    # 7e9 on 8 devices: DDP 112 GB no; ZeRO-1 38.5 GB + 1 GiB fits
    assert lightest_sharding(7e9, 8, usable, GIB, Optimizer.ADAM, A) is Sharding.ZERO1
    # 70e9 on 16: ZeRO-1 (4 + 0.75) x 70 = 332 GB no; ZeRO-2 (2 + 0.875) x 70 = 201 GB no; ZeRO-3 70 GB fits
    assert lightest_sharding(70e9, 16, usable, GIB, Optimizer.ADAM, A) is Sharding.ZERO3
    assert lightest_sharding(70e9, 2, usable, GIB, Optimizer.ADAM, A) is None


def test_checkpoint_is_weights_plus_optimizer_state() -> None:
    # (2 + 12) x 7e9 = 98 GB
    assert checkpoint_bytes(7e9, Optimizer.ADAM, A) == pytest.approx(98e9)


def test_allreduce_traffic_ring_and_zero3() -> None:
    # ring: 2 x (4-1)/4 x (2 x 7e9) = 21 GB per node per step; ZeRO-3: 1.5 x = 31.5 GB; one node: 0
    assert allreduce_bytes_per_step(7e9, 4, Sharding.NONE, A) == pytest.approx(21e9)
    assert allreduce_bytes_per_step(7e9, 4, Sharding.ZERO3, A) == pytest.approx(31.5e9)
    assert allreduce_bytes_per_step(7e9, 1, Sharding.ZERO3, A) == 0.0


def test_kv_cache_per_token_matches_vllm_paper_opt_13b() -> None:
    # OPT-13B: 40 layers, hidden 5120 -> 2 x 40 x 5120 x 2 B = 819,200 B ("800 KB" in the vLLM paper)
    assert kv_bytes_per_token(ModelShape(40, 5120, derived=False), A) == 819_200


@pytest.mark.parametrize(("value", "text"), [(7e9, "7e9"), (-7e9, "-7e9"), (2e12, "2e12"), (0.5, "0.5"),
                                             (1024, "1024"), (1.5e-3, "0.0015")])
def test_numbers_read_as_typed(value: float, text: str) -> None:
    assert show_number(value) == text

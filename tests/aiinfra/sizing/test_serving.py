"""Serving sizing: the replica roofline against a hand-computed case, the plan over the catalog, bad input."""

from __future__ import annotations

import math

import pytest

from aiinfra.catalog.prices import HOURS_PER_MONTH, hourly_price
from aiinfra.sizing import Quantization, ServingGoal, SizingError, default_assumptions, plan_serving
from aiinfra.sizing.formulas import GIB
from aiinfra.sizing.serving import replica_throughput

A = default_assumptions()


def test_replica_throughput_hand_computed() -> None:
    # room 12e9 - 2e9 = 10e9 -> batch 10 sequences of 1e9 B KV
    # decode step: memory (2e9 + 10e9) / (1000e9 x 0.7) = 17.14 ms > compute 2e9 x 10 / (100e12 x 0.5) = 0.4 ms
    # prefill: 2e9 x 1000 / 50e12 = 40 ms; rps = 1 / (0.040 + 100 x 0.017143 / 10) = 4.7297
    tp = replica_throughput(1e9, 2e9, 1e9, 1, 100, 1000, 12e9, 1000, 100, 0.5, A)
    assert tp is not None
    assert tp.batch == 10
    assert tp.decode_step_s == pytest.approx(12e9 / 700e9)
    assert tp.prefill_s == pytest.approx(0.04)
    assert tp.rps == pytest.approx(1 / (0.04 + 100 * (12e9 / 700e9) / 10))


def test_replica_that_cannot_hold_one_sequence() -> None:
    assert replica_throughput(1e9, 2e9, 11e9, 1, 100, 1000, 12e9, 1000, 100, 0.5, A) is None


def test_batch_is_capped_at_the_engine_maximum() -> None:
    tp = replica_throughput(1e8, 2e8, 1e6, 1, 100, 1000, 80e9, 100, 10, 0.5, A)
    assert tp is not None and tp.batch == 256


def test_plan_prices_replicas_per_month() -> None:
    plan = plan_serving(ServingGoal(params=7e9, quantization=Quantization.INT8, context=8192, rps=20,
                                    accelerators=("h100",), clouds=("aws",), regions=("us-east-1",)))
    c = plan.candidates[0]
    assert c.instance_or_slice == "p5.48xlarge" and c.devices_per_replica == 8
    assert c.replicas == max(2, math.ceil(20 / c.rps_per_replica))
    assert c.cost_per_month_usd == pytest.approx(
        c.replicas * hourly_price("p5.48xlarge", "us-east-1").hourly_usd * HOURS_PER_MONTH)
    # int8: 1 byte per parameter; KV: 2 x 33 layers x 4224 hidden x 2 B = 557,568 B per token
    assert plan.weights_bytes == 7e9
    assert plan.kv_per_token == 557_568


def test_quantization_shrinks_weights() -> None:
    fp16 = plan_serving(ServingGoal(params=70e9, rps=1, accelerators=("l40s",), regions=("us-east-1",)))
    int4 = plan_serving(ServingGoal(params=70e9, quantization=Quantization.INT4, rps=1, accelerators=("l40s",),
                                    regions=("us-east-1",)))
    assert (fp16.weights_bytes, int4.weights_bytes) == (140e9, 35e9)
    one_gpu_fp16 = next(c for c in fp16.candidates if c.instance_or_slice == "g6e.xlarge")
    assert not one_gpu_fp16.feasible
    assert one_gpu_fp16.reasons == (
        f"weights 140.0 GB + one 4096-token sequence {fp16.kv_per_sequence / 1e9:,.1f} GB exceed 1 x "
        f"{48 * 0.9:.1f} GiB usable on l40s",)
    assert 48 * 0.9 * GIB < 140e9


def test_tpu_replica_is_the_cheapest_slice_size() -> None:
    plan = plan_serving(ServingGoal(params=7e9, rps=20, accelerators=("tpu-v5e",), regions=("us-central1",)))
    c = plan.candidates[0]
    assert c.feasible and c.instance_or_slice.startswith("v5litepod-")
    assert c.cost_per_month_usd == pytest.approx(
        c.replicas * hourly_price(c.instance_or_slice, "us-central1").hourly_usd * HOURS_PER_MONTH)


def test_recommended_is_cheapest_feasible_and_assumptions_have_sources() -> None:
    plan = plan_serving(ServingGoal(params=7e9, rps=5))
    assert plan.recommended is not None
    assert plan.recommended.cost_per_month_usd == min(
        c.cost_per_month_usd for c in plan.candidates if c.feasible and c.cost_per_month_usd is not None)
    keys = {a["key"] for a in plan.assumptions_json()}
    assert {"serving_bytes_kv", "serving_memory_bandwidth_utilisation", "mfu.hopper"} <= keys
    assert plan.to_json()["memory"]["kv_formula"] == "2 x layers x hidden x bytes per element (multi-head attention)"


@pytest.mark.parametrize(
    ("goal", "message"),
    [
        (ServingGoal(params=-1e9, rps=1), "--params: -1e9 must be a positive number"),
        (ServingGoal(params=7e9, rps=0), "--rps: 0 must be a positive number of requests per second"),
        (ServingGoal(params=7e9, rps=-1, rps_given=False), "--rps: is required with --serve (target requests per "
                                                           "second)"),
        (ServingGoal(params=7e9, rps=1, context=512, output_tokens=512),
         "--output-tokens: 512 must be at least 1 and less than --context 512"),
        (ServingGoal(params=7e9, rps=1, accelerators=("tpu-v6",)),
         "--accelerator: 'tpu-v6' is not a known accelerator; did you mean 'tpu-v6e'? (known: a100-40gb, "
         "a100-80gb, a10g, b200, h100, h200, l4, l40s, tpu-v4, tpu-v5e, tpu-v5p, tpu-v6e)"),
    ],
)
def test_bad_serving_input(goal: ServingGoal, message: str) -> None:
    with pytest.raises(SizingError) as err:
        plan_serving(goal)
    assert err.value.problems == [message]

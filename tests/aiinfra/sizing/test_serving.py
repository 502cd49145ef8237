"""Serving sizing: the replica roofline against a hand-computed case, the plan over the catalog, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from aiinfra.catalog.prices import HOURS_PER_MONTH, hourly_price
from aiinfra.sizing import Quantization, ServingGoal, SizingError, default_assumptions, plan_serving
from aiinfra.sizing.formulas import GIB, ModelShape
from aiinfra.sizing.hardware import chips
from aiinfra.sizing.serving import kv_cache_bytes_per_token, replica_throughput

A = default_assumptions()


def test_replica_throughput_hand_computed() -> None:
    # KV 1e6 B per token; a mean request 900 + 100 tokens = 1e9 B; room 12e9 - 2e9 = 10e9 -> batch 10
    # decode step: memory (2e9 + 10 x 1e6 x (900 + 50)) / (1000e9 x 0.7) = 16.43 ms > compute
    # 2e9 x 10 / (100e12 x 0.5) = 0.4 ms; prefill: 2e9 x 900 / 50e12 = 36 ms
    # rps = 0.38 engine efficiency / (0.036 + 100 x 0.016429 / 10)
    tp = replica_throughput(1e9, 2e9, 1e6, 1, 100, 1000, 12e9, 900, 100, 1000, 0.5, A)
    assert tp is not None
    assert tp.batch == 10
    assert tp.decode_step_s == pytest.approx(11.5e9 / 700e9)
    assert tp.prefill_s == pytest.approx(0.036)
    assert tp.rps == pytest.approx(0.38 / (0.036 + 100 * (11.5e9 / 700e9) / 10))


def test_prefix_cache_hits_skip_prefill_and_efficiency_scales_requests() -> None:
    base = replica_throughput(1e9, 2e9, 1e6, 1, 100, 1000, 12e9, 900, 100, 1000, 0.5, A)
    cached = replica_throughput(1e9, 2e9, 1e6, 1, 100, 1000, 12e9, 900, 100, 1000, 0.5, A, prefix_cache_hit=0.75)
    full = replica_throughput(1e9, 2e9, 1e6, 1, 100, 1000, 12e9, 900, 100, 1000, 0.5, A, engine_efficiency=1.0)
    assert base is not None and cached is not None and full is not None
    assert cached.prefill_s == pytest.approx(base.prefill_s / 4)
    assert cached.rps > base.rps
    assert full.rps == pytest.approx(base.rps / 0.38)


def test_replica_that_cannot_hold_one_full_context_sequence() -> None:
    # a mean request fits, the longest (11,000 tokens x 1e6 B = 11e9 B > 10e9 B room) does not
    assert replica_throughput(1e9, 2e9, 1e6, 1, 100, 1000, 12e9, 900, 100, 11_000, 0.5, A) is None


def test_batch_is_capped_at_the_engine_maximum() -> None:
    tp = replica_throughput(1e8, 2e8, 1e3, 1, 100, 1000, 80e9, 100, 10, 110, 0.5, A)
    assert tp is not None and tp.batch == 256


BENCH = json.loads((Path(__file__).parent / "data" / "serving_benchmarks.json").read_text())


@pytest.mark.parametrize("bench", BENCH["benchmarks"], ids=[b["name"] for b in BENCH["benchmarks"]])
def test_published_serving_benchmark_within_tolerance(bench: dict[str, Any]) -> None:
    chip = chips()[bench["accelerator"]]
    shape = ModelShape(bench["layers"], bench["hidden"], derived=False)
    kv = kv_cache_bytes_per_token(shape, bench["kv_heads"], A)
    assert kv == 2 * 32 * 8 * 128 * 2  # 128 KiB per token for Llama 3 8B (GQA)
    tp = replica_throughput(bench["params"], bench["params"] * 2, kv, bench["devices"], chip.bf16_tflops,
                            chip.memory_bandwidth_gbs, chip.memory_gib * GIB * A["usable_memory_fraction"],
                            bench["prompt_tokens"], bench["output_tokens"], bench["context"],
                            A.mfu_for(bench["accelerator"]).value, A)
    assert tp is not None
    error = tp.rps / bench["measured_rps"] - 1
    assert abs(error) <= BENCH["tolerance"], f"{tp.rps:.2f} vs {bench['measured_rps']} req/s ({error:+.1%})"


def test_plan_prices_whole_instances_per_month() -> None:
    plan = plan_serving(ServingGoal(params=7e9, quantization=Quantization.INT8, context=8192, rps=20,
                                    accelerators=("h100",), clouds=("aws",), regions=("us-east-1",)))
    c = plan.candidates[0]
    # 7 GB of int8 weights fit one H100: 8 data-parallel replicas of 1 GPU on one p5.48xlarge
    assert c.instance_or_slice == "p5.48xlarge" and c.devices_per_replica == 1 and c.replicas_per_instance == 8
    assert c.instances == math.ceil(max(2, math.ceil(20 / c.rps_per_replica)) / 8)
    assert c.replicas == c.instances * 8
    assert c.cost_per_month_usd == pytest.approx(
        c.instances * hourly_price("p5.48xlarge", "us-east-1").hourly_usd * HOURS_PER_MONTH)
    # int8: 1 byte per parameter; KV (GQA, 8 KV heads): 2 x 33 layers x 8 x 128 x 2 B = 135,168 B per token
    assert plan.weights_bytes == 7e9
    assert plan.kv_per_token == 135_168
    assert (plan.prompt_tokens, plan.output_tokens, plan.kv_heads) == (1024, 256, 8)


def test_the_reviews_l4_case_needs_tens_not_hundreds_of_instances() -> None:
    # review 2026-11-29 row 14: 215 x g6.xlarge for 20 req/s of a 7B int8 model (MHA, full contexts)
    plan = plan_serving(ServingGoal(params=7e9, quantization=Quantization.INT8, context=8192, rps=20,
                                    accelerators=("l4",), clouds=("aws",), regions=("us-east-1",)))
    c = next(c for c in plan.candidates if c.instance_or_slice == "g6.xlarge")
    assert c.feasible and c.instances == 31
    mha = plan_serving(ServingGoal(params=7e9, quantization=Quantization.INT8, context=8192, rps=20, kv_heads=33,
                                   accelerators=("l4",), clouds=("aws",), regions=("us-east-1",)))
    c_mha = next(c for c in mha.candidates if c.instance_or_slice == "g6.xlarge")
    # multi-head attention (33 KV heads) holds 4x the KV cache: fewer sequences per batch, more instances
    assert mha.kv_per_token == 4 * plan.kv_per_token * 33 / 32 and c_mha.instances > c.instances


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
        c.instances * hourly_price(c.instance_or_slice, "us-central1").hourly_usd * HOURS_PER_MONTH)


def test_recommended_is_cheapest_feasible_and_assumptions_have_sources() -> None:
    plan = plan_serving(ServingGoal(params=7e9, rps=5))
    assert plan.recommended is not None
    assert plan.recommended.cost_per_month_usd == min(
        c.cost_per_month_usd for c in plan.candidates if c.feasible and c.cost_per_month_usd is not None)
    keys = {a["key"] for a in plan.assumptions_json()}
    assert {"serving_bytes_kv", "serving_memory_bandwidth_utilisation", "mfu.hopper"} <= keys
    assert plan.to_json()["memory"]["kv_formula"] == "2 x layers x KV heads x head dim x bytes per element"


@pytest.mark.parametrize(
    ("goal", "message"),
    [
        (ServingGoal(params=-1e9, rps=1), "--params: -1e9 must be a positive number"),
        (ServingGoal(params=7e9, rps=0), "--rps: 0 must be a positive number of requests per second"),
        (ServingGoal(params=7e9, rps=-1, rps_given=False), "--rps: is required with --serve (target requests per "
                                                           "second)"),
        (ServingGoal(params=7e9, rps=1, context=512, output_tokens=512),
         "--output-tokens: 512 must be at least 1 and less than --context 512"),
        (ServingGoal(params=7e9, rps=1, context=2048, prompt_tokens=2000, output_tokens=100),
         "--prompt-tokens: 2000 plus 100 output tokens exceed --context 2048; the context is the longest sequence "
         "served"),
        (ServingGoal(params=7e9, rps=1, kv_heads=0),
         "--kv-heads: 0 must be a positive whole number (8 for Llama 3 8B/70B; the attention head count for "
         "multi-head attention)"),
        (ServingGoal(params=7e9, rps=1, kv_heads=64),
         "--kv-heads: 64 exceeds the model's 33 attention heads (hidden 4224 / head dim 128); pass at most 33"),
        (ServingGoal(params=7e9, rps=1, prefix_cache_hit=1.0),
         "--prefix-cache-hit: 1.0 is not a share of prompt tokens; expected 0 to below 1, e.g. 0.5"),
        (ServingGoal(params=7e9, rps=1, engine_efficiency=0.0),
         "--engine-efficiency: 0.0 is not a share; expected a fraction in (0, 1], e.g. 0.38"),
        (ServingGoal(params=7e9, rps=1, accelerators=("tpu-v6",)),
         "--accelerator: 'tpu-v6' is not a known accelerator; did you mean 'v6e'? (known: a100-40gb, "
         "a100-80gb, a10g, b200, h100, h200, l4, l40s, v4, v5e, v5p, v6e)"),
    ],
)
def test_bad_serving_input(goal: ServingGoal, message: str) -> None:
    with pytest.raises(SizingError) as err:
        plan_serving(goal)
    assert err.value.problems == [message]

"""Serving sizing: from parameters, quantization, request shape and requests/s to replicas and a monthly cost.

A replica is the fewest GPUs of one instance (1, 2, 4 or 8, tensor parallel) that hold the
weights and one full-context sequence; an instance with more GPUs runs several replicas
(data parallel, which serves more than wider tensor parallelism when the model fits). On TPUs
a replica is the cheapest slice. Per replica, with continuous batching (sequences join and
leave the batch at every decode step) and paged KV cache (a sequence holds only its tokens):

- KV per token = 2 (key, value) x layers x KV heads x head dim x bytes per element
  (grouped-query attention: KV heads < attention heads; multi-head attention: equal);
- batch = min(engine maximum, KV room / KV of a mean sequence (prompt + output tokens)),
  KV room = usable memory - weights;
- decode step (roofline) = max(bytes read / (HBM bandwidth x utilisation),
  2 x params x batch / (peak x MFU)); bytes read = weights + the batch's KV cache at the mean
  context during decode (prompt + output / 2);
- prefill per request = 2 x params x prompt x (1 - prefix-cache hit) / (peak x MFU);
- requests/s = engine efficiency / (prefill + output x decode step / batch), where the
  efficiency is the share of time the GPU computes (API server, scheduling and sampling
  take the rest).

Replicas = max(minimum replicas, ceil(target requests/s / requests/s per replica));
instances = ceil(replicas / replicas per instance); cost per month = instances x hourly
price x 730 h.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from aiinfra.catalog.prices import HOURS_PER_MONTH, PriceError, hourly_price
from aiinfra.catalog.tpu import tpu_slice
from aiinfra.sizing.assumptions import Assumptions, default_assumptions
from aiinfra.sizing.errors import SizingError
from aiinfra.sizing.formulas import GIB, ModelShape, Quantization, model_shape, show_number
from aiinfra.sizing.hardware import Offering, chip_name, offerings
from aiinfra.sizing.training import validate_selection

__all__ = ["ServingCandidate", "ServingGoal", "ServingPlan", "kv_cache_bytes_per_token", "plan_serving",
           "replica_throughput"]

SERVING_ASSUMPTION_KEYS = (
    "params_per_layer_hidden_squared", "hidden_per_layer", "head_dim", "usable_memory_fraction", "serving_bytes_kv",
    "serving_max_batch", "serving_memory_bandwidth_utilisation", "serving_output_tokens", "serving_prompt_tokens",
    "serving_kv_heads", "serving_prefix_cache_hit", "serving_engine_efficiency", "serving_min_replicas",
)
TENSOR_PARALLEL = (1, 2, 4, 8)
"""GPUs per replica tried, fewest first (tensor parallel degrees that divide an instance's GPUs)."""


@dataclass(frozen=True)
class ServingGoal:
    params: float
    quantization: Quantization = Quantization.FP16
    context: int = 4096
    """The longest sequence served (prompt + output, the engine's max model length): one must fit."""
    rps: float = 1.0
    """Target requests per second."""
    output_tokens: int | None = None
    """Mean generated tokens per request."""
    prompt_tokens: int | None = None
    """Mean prompt tokens per request; default from the assumptions, capped at context - output."""
    kv_heads: int | None = None
    """Key/value heads (grouped-query attention); default from the assumptions."""
    prefix_cache_hit: float | None = None
    """Share of prompt tokens served from the prefix cache (0 to <1)."""
    engine_efficiency: float | None = None
    """Share of the GPU roofline the serving engine achieves; default from the assumptions."""
    layers: int | None = None
    hidden: int | None = None
    accelerators: tuple[str, ...] = ()
    clouds: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    spot: bool = False
    mfu: float | None = None
    rps_given: bool = True
    """False when the CLI got no --rps (reported as 'required', not as a bad number)."""


@dataclass(frozen=True)
class Throughput:
    batch: int
    decode_step_s: float
    prefill_s: float
    rps: float

    @property
    def output_tokens_per_s(self) -> float:
        """Decode throughput while the batch is full (before the engine efficiency)."""
        return self.batch / self.decode_step_s if self.decode_step_s > 0 else 0.0


@dataclass(frozen=True)
class ServingCandidate:
    cloud: str
    region: str
    accelerator: str
    instance_or_slice: str
    devices_per_replica: int
    batch: int
    rps_per_replica: float
    replicas: int
    hourly_usd: float | None
    """Price of one instance (or TPU slice) per hour in `market`."""
    cost_per_month_usd: float | None
    market: str
    feasible: bool
    reasons: tuple[str, ...]
    notes: tuple[str, ...]
    memory_per_replica_gib: float
    decode_step_ms: float
    offering: Offering = field(repr=False, compare=False)
    replicas_per_instance: int = 1
    instances: int = 0
    """Instances (or TPU slices) bought: ceil(replicas / replicas per instance)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud, "region": self.region, "accelerator": self.accelerator,
            "instance_or_slice": self.instance_or_slice, "devices_per_replica": self.devices_per_replica,
            "batch": self.batch, "rps_per_replica": round(self.rps_per_replica, 3), "replicas": self.replicas,
            "replicas_per_instance": self.replicas_per_instance, "instances": self.instances,
            "hourly_usd": None if self.hourly_usd is None else round(self.hourly_usd, 4),
            "cost_per_month_usd": None if self.cost_per_month_usd is None else round(self.cost_per_month_usd, 2),
            "market": self.market, "feasible": self.feasible, "reasons": list(self.reasons),
            "notes": list(self.notes), "memory_per_replica_gib": round(self.memory_per_replica_gib, 1),
            "decode_step_ms": round(self.decode_step_ms, 2),
        }


@dataclass(frozen=True)
class ServingPlan:
    goal: ServingGoal
    assumptions: Assumptions
    shape: ModelShape
    rps: float
    output_tokens: int
    weights_bytes: float
    kv_per_token: float
    prompt_tokens: int
    kv_heads: int
    prefix_cache_hit: float
    engine_efficiency: float
    candidates: tuple[ServingCandidate, ...]
    recommended: ServingCandidate | None
    hours_per_month: int = HOURS_PER_MONTH

    @property
    def kv_per_sequence(self) -> float:
        """KV cache of the longest sequence (the context), which one replica must hold."""
        return self.kv_per_token * self.goal.context

    @property
    def kv_per_mean_sequence(self) -> float:
        """KV cache of a mean request (prompt + output), what the batch is sized with."""
        return self.kv_per_token * (self.prompt_tokens + self.output_tokens)

    def assumptions_json(self) -> list[dict[str, Any]]:
        return self.assumptions.used(SERVING_ASSUMPTION_KEYS, tuple(sorted({c.accelerator for c in self.candidates})))

    def to_json(self) -> dict[str, Any]:
        g = self.goal
        return {
            "inputs": {"params": g.params, "quantization": g.quantization.value, "context": g.context,
                       "rps": self.rps, "prompt_tokens": self.prompt_tokens, "output_tokens": self.output_tokens,
                       "kv_heads": self.kv_heads, "prefix_cache_hit": self.prefix_cache_hit,
                       "engine_efficiency": self.engine_efficiency, "layers": self.shape.layers,
                       "hidden": self.shape.hidden, "shape_derived": self.shape.derived,
                       "accelerators": list(g.accelerators), "clouds": list(g.clouds), "regions": list(g.regions),
                       "spot": g.spot},
            "assumptions": self.assumptions_json(),
            "memory": {"weights_gb": round(self.weights_bytes / 1e9, 2),
                       "kv_cache_bytes_per_token": self.kv_per_token,
                       "kv_formula": "2 x layers x KV heads x head dim x bytes per element",
                       "kv_gb_per_sequence": round(self.kv_per_sequence / 1e9, 3),
                       "kv_gb_per_mean_sequence": round(self.kv_per_mean_sequence / 1e9, 4)},
            "hours_per_month": self.hours_per_month,
            "candidates": [c.to_json() for c in self.candidates],
            "recommended": self.recommended.to_json() if self.recommended else None,
        }


def validate_serving_goal(goal: ServingGoal) -> None:
    p: list[str] = []
    if not (math.isfinite(goal.params) and goal.params > 0):
        p.append(f"--params: {show_number(goal.params)} must be a positive number")
    if not goal.rps_given:
        p.append("--rps: is required with --serve (target requests per second)")
    elif not (math.isfinite(goal.rps) and goal.rps > 0):
        p.append(f"--rps: {show_number(goal.rps)} must be a positive number of requests per second")
    if goal.context < 2:
        p.append(f"--context: {goal.context} must be at least 2 tokens")
    if goal.output_tokens is not None and not 1 <= goal.output_tokens < goal.context:
        p.append(f"--output-tokens: {goal.output_tokens} must be at least 1 and less than --context {goal.context}")
    if goal.prompt_tokens is not None:
        if goal.prompt_tokens < 1:
            p.append(f"--prompt-tokens: {goal.prompt_tokens} must be at least 1")
        elif goal.prompt_tokens + (goal.output_tokens or 1) > goal.context:
            p.append(f"--prompt-tokens: {goal.prompt_tokens} plus {goal.output_tokens or 1} output tokens exceed "
                     f"--context {goal.context}; the context is the longest sequence served")
    if goal.kv_heads is not None and goal.kv_heads < 1:
        p.append(f"--kv-heads: {goal.kv_heads} must be a positive whole number (8 for Llama 3 8B/70B; the attention "
                 "head count for multi-head attention)")
    if goal.prefix_cache_hit is not None and not (math.isfinite(goal.prefix_cache_hit)
                                                  and 0 <= goal.prefix_cache_hit < 1):
        p.append(f"--prefix-cache-hit: {goal.prefix_cache_hit} is not a share of prompt tokens; expected 0 to "
                 "below 1, e.g. 0.5")
    if goal.engine_efficiency is not None and not (math.isfinite(goal.engine_efficiency)
                                                   and 0 < goal.engine_efficiency <= 1):
        p.append(f"--engine-efficiency: {goal.engine_efficiency} is not a share; expected a fraction in (0, 1], "
                 "e.g. 0.38")
    for name, value in (("--layers", goal.layers), ("--hidden", goal.hidden)):
        if value is not None and value < 1:
            p.append(f"{name}: {value} must be a positive whole number")
    if goal.mfu is not None and not 0 < goal.mfu <= 1:
        p.append(f"--mfu: {goal.mfu} is not a utilisation; expected a fraction in (0, 1], e.g. 0.4")
    validate_selection(p, goal.accelerators, goal.clouds, goal.regions)
    if p:
        raise SizingError(p)


def kv_cache_bytes_per_token(shape: ModelShape, kv_heads: int, a: Assumptions) -> float:
    """KV cache per token: 2 (key and value) x layers x KV heads x head dim x bytes per element."""
    return 2 * shape.layers * kv_heads * a["head_dim"] * a["serving_bytes_kv"]


def replica_throughput(params: float, weights_bytes: float, kv_per_token: float, devices: int, peak_tflops: float,
                       bandwidth_gbs: float, usable_bytes_per_device: float, prompt_tokens: int, output_tokens: int,
                       context: int, mfu: float, a: Assumptions, prefix_cache_hit: float = 0.0,
                       engine_efficiency: float | None = None) -> Throughput | None:
    """Batch, decode step, prefill time and requests/s of one replica; None if a full-context sequence does not fit."""
    room = devices * usable_bytes_per_device - weights_bytes
    if room < kv_per_token * context:
        return None
    mean_sequence = kv_per_token * (prompt_tokens + output_tokens)
    batch = max(1, int(min(room // mean_sequence, a["serving_max_batch"])))
    flops_rate = devices * peak_tflops * 1e12 * mfu
    byte_rate = devices * bandwidth_gbs * 1e9 * a["serving_memory_bandwidth_utilisation"]
    # During decode a sequence holds its prompt and, on average, half its output.
    memory_time = (weights_bytes + batch * kv_per_token * (prompt_tokens + output_tokens / 2)) / byte_rate
    compute_time = 2 * params * batch / flops_rate
    step = max(memory_time, compute_time)
    prefill = 2 * params * prompt_tokens * (1 - prefix_cache_hit) / flops_rate
    efficiency = a["serving_engine_efficiency"] if engine_efficiency is None else engine_efficiency
    rps = efficiency / (prefill + output_tokens * step / batch)
    return Throughput(batch, step, prefill, rps)


def plan_serving(goal: ServingGoal, assumptions: Assumptions | None = None) -> ServingPlan:
    validate_serving_goal(goal)
    a = (assumptions or default_assumptions()).with_mfu(goal.mfu)
    shape = model_shape(goal.params, a, goal.layers, goal.hidden)
    output = goal.output_tokens or int(a["serving_output_tokens"])
    if output >= goal.context:
        raise SizingError([f"--context: {goal.context} leaves no room for a prompt with {output} output tokens; "
                           "raise --context or pass --output-tokens"])
    prompt = goal.prompt_tokens or min(int(a["serving_prompt_tokens"]), goal.context - output)
    heads = max(1, shape.hidden // int(a["head_dim"]))
    kv_heads = goal.kv_heads or min(int(a["serving_kv_heads"]), heads)
    if kv_heads > heads:
        raise SizingError([f"--kv-heads: {kv_heads} exceeds the model's {heads} attention heads (hidden "
                           f"{shape.hidden} / head dim {a['head_dim']:g}); pass at most {heads}"])
    hit = a["serving_prefix_cache_hit"] if goal.prefix_cache_hit is None else goal.prefix_cache_hit
    efficiency = a["serving_engine_efficiency"] if goal.engine_efficiency is None else goal.engine_efficiency
    weights = goal.params * goal.quantization.bytes_per_param
    kv_tok = kv_cache_bytes_per_token(shape, kv_heads, a)
    request = _Request(prompt, output, hit, efficiency)
    cands = [_size(goal, o, a, weights, kv_tok, request) for o in offerings() if _selected(goal, o)]
    ranked = tuple(sorted(cands, key=lambda c: (not c.feasible, c.cost_per_month_usd is None,
                                                c.cost_per_month_usd or 0.0, c.region, c.instance_or_slice)))
    rec = next((c for c in ranked if c.feasible), None)
    return ServingPlan(goal, a, shape, goal.rps, output, weights, kv_tok, prompt, kv_heads, hit, efficiency, ranked,
                       rec)


@dataclass(frozen=True)
class _Request:
    prompt: int
    output: int
    prefix_cache_hit: float
    engine_efficiency: float


def _selected(goal: ServingGoal, o: Offering) -> bool:
    if goal.accelerators and o.chip.name not in {chip_name(a) for a in goal.accelerators}:
        return False
    if goal.clouds and o.cloud not in goal.clouds:
        return False
    return not goal.regions or o.region in goal.regions


def _size(goal: ServingGoal, o: Offering, a: Assumptions, weights: float, kv_tok: float,
          req: _Request) -> ServingCandidate:
    """The offering's best replica: the fewest GPUs of the instance that fit, or the cheapest TPU slice."""
    if not o.is_tpu:
        options = [_size_replica(goal, o, a, weights, kv_tok, req, tp, o.name, o.chips_per_unit // tp)
                   for tp in TENSOR_PARALLEL if tp <= o.chips_per_unit and o.chips_per_unit % tp == 0]
    else:
        options = [_size_replica(goal, o, a, weights, kv_tok, req, s.chips, s.accelerator_type, 1)
                   for s in (tpu_slice(f"{o.name}-{size}") for size in o.tpu_sizes)]
    feasible = [c for c in options if c.feasible and c.cost_per_month_usd is not None]
    if feasible:
        return min(feasible, key=lambda c: (c.cost_per_month_usd, c.devices_per_replica))
    return options[-1]


def _size_replica(goal: ServingGoal, o: Offering, a: Assumptions, weights: float, kv_tok: float, req: _Request,
                  devices: int, label: str, per_instance: int) -> ServingCandidate:
    chip = o.chip
    usable = chip.memory_gib * GIB * a["usable_memory_fraction"]
    mfu = a.mfu_for(chip.name).value
    reasons: list[str] = []
    notes: list[str] = []
    tp = None
    if chip.memory_bandwidth_gbs <= 0:
        reasons.append(f"the catalog has no memory bandwidth for {chip.name}; decode speed cannot be sized")
    else:
        tp = replica_throughput(goal.params, weights, kv_tok, devices, chip.bf16_tflops, chip.memory_bandwidth_gbs,
                                usable, req.prompt, req.output, goal.context, mfu, a, req.prefix_cache_hit,
                                req.engine_efficiency)
        if tp is None:
            reasons.append(f"weights {weights / 1e9:,.1f} GB + one {goal.context}-token sequence "
                           f"{kv_tok * goal.context / 1e9:,.1f} GB exceed {devices} x {usable / GIB:,.1f} GiB usable "
                           f"on {chip.name}")
    replicas = instances = 0
    if tp is not None:
        replicas = max(int(a["serving_min_replicas"]), math.ceil(goal.rps / tp.rps))
        instances = math.ceil(replicas / per_instance)
        # Whole instances are bought: fill them with replicas.
        replicas = instances * per_instance
    hourly, market = _price(o, label, goal.spot, reasons)
    if market == "spot":
        notes.append("spot replicas can be reclaimed: keep on-demand capacity for the minimum replicas")
    if devices > 1:
        notes.append(f"tensor parallel across the {devices} {'chips of the slice' if o.is_tpu else 'GPUs'}")
    if per_instance > 1:
        notes.append(f"{per_instance} replicas of {devices} GPU{'s' if devices > 1 else ''} per {label} "
                     "(data parallel)")
    cost = hourly * instances * HOURS_PER_MONTH if hourly is not None and tp is not None else None
    return ServingCandidate(
        cloud=o.cloud, region=o.region, accelerator=chip.name, instance_or_slice=label, devices_per_replica=devices,
        batch=tp.batch if tp else 0, rps_per_replica=tp.rps if tp else 0.0, replicas=replicas, hourly_usd=hourly,
        cost_per_month_usd=cost, market=market, feasible=not reasons, reasons=tuple(reasons), notes=tuple(notes),
        memory_per_replica_gib=devices * chip.memory_gib, decode_step_ms=tp.decode_step_s * 1e3 if tp else 0.0,
        offering=o, replicas_per_instance=per_instance, instances=instances,
    )


def _price(o: Offering, label: str, spot: bool, reasons: list[str]) -> tuple[float | None, str]:
    if spot and o.spot_available:
        try:
            return hourly_price(label, o.region, "spot").hourly_usd, "spot"
        except PriceError:
            pass
    try:
        return hourly_price(label, o.region, "on-demand").hourly_usd, "on-demand"
    except PriceError as exc:
        reasons.append(f"no price: {exc}")
        return None, "on-demand"

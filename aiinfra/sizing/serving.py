"""Serving sizing: from parameters, quantization, context and requests/s to replicas and a monthly cost.

A replica is one GPU instance (tensor parallel across its GPUs) or the smallest TPU slice that
holds the weights and one full-context sequence. Per replica:

- memory: weights (parameters x bytes of the quantization) + batch x KV cache of a full
  context, where KV per token = 2 x layers x hidden x bytes per element (multi-head attention;
  grouped-query attention needs less);
- decode step (roofline): max(bytes read / (HBM bandwidth x utilisation), 2 x params x batch
  FLOPs / (peak x MFU)); bytes read = weights + the batch's KV cache;
- prefill: 2 x params x prompt tokens / (peak x MFU), prompt = context - output tokens;
- requests/s per replica = 1 / (prefill + output tokens x decode step / batch).

Replicas = max(minimum replicas, ceil(target requests/s / requests/s per replica)); cost per
month = replicas x hourly price x 730 h.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from aiinfra.catalog.prices import HOURS_PER_MONTH, PriceError, hourly_price
from aiinfra.catalog.tpu import tpu_slice
from aiinfra.sizing.assumptions import Assumptions, default_assumptions
from aiinfra.sizing.errors import SizingError
from aiinfra.sizing.formulas import GIB, ModelShape, Quantization, kv_bytes_per_token, model_shape, show_number
from aiinfra.sizing.hardware import Offering, offerings
from aiinfra.sizing.training import validate_selection

__all__ = ["ServingCandidate", "ServingGoal", "ServingPlan", "plan_serving", "replica_throughput"]

SERVING_ASSUMPTION_KEYS = (
    "params_per_layer_hidden_squared", "hidden_per_layer", "head_dim", "usable_memory_fraction", "serving_bytes_kv",
    "serving_max_batch", "serving_memory_bandwidth_utilisation", "serving_output_tokens", "serving_min_replicas",
)


@dataclass(frozen=True)
class ServingGoal:
    params: float
    quantization: Quantization = Quantization.FP16
    context: int = 4096
    """Tokens per sequence the KV cache holds (prompt + output)."""
    rps: float = 1.0
    """Target requests per second."""
    output_tokens: int | None = None
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
    """Price of one replica per hour in `market`."""
    cost_per_month_usd: float | None
    market: str
    feasible: bool
    reasons: tuple[str, ...]
    notes: tuple[str, ...]
    memory_per_replica_gib: float
    decode_step_ms: float
    offering: Offering = field(repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud, "region": self.region, "accelerator": self.accelerator,
            "instance_or_slice": self.instance_or_slice, "devices_per_replica": self.devices_per_replica,
            "batch": self.batch, "rps_per_replica": round(self.rps_per_replica, 3), "replicas": self.replicas,
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
    candidates: tuple[ServingCandidate, ...]
    recommended: ServingCandidate | None
    hours_per_month: int = HOURS_PER_MONTH

    @property
    def kv_per_sequence(self) -> float:
        return self.kv_per_token * self.goal.context

    def assumptions_json(self) -> list[dict[str, Any]]:
        return self.assumptions.used(SERVING_ASSUMPTION_KEYS, tuple(sorted({c.accelerator for c in self.candidates})))

    def to_json(self) -> dict[str, Any]:
        g = self.goal
        return {
            "inputs": {"params": g.params, "quantization": g.quantization.value, "context": g.context,
                       "rps": self.rps, "output_tokens": self.output_tokens, "layers": self.shape.layers,
                       "hidden": self.shape.hidden, "shape_derived": self.shape.derived,
                       "accelerators": list(g.accelerators), "clouds": list(g.clouds), "regions": list(g.regions),
                       "spot": g.spot},
            "assumptions": self.assumptions_json(),
            "memory": {"weights_gb": round(self.weights_bytes / 1e9, 2),
                       "kv_bytes_per_token": self.kv_per_token,
                       "kv_formula": "2 x layers x hidden x bytes per element (multi-head attention)",
                       "kv_gb_per_sequence": round(self.kv_per_sequence / 1e9, 3)},
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
    for name, value in (("--layers", goal.layers), ("--hidden", goal.hidden)):
        if value is not None and value < 1:
            p.append(f"{name}: {value} must be a positive whole number")
    if goal.mfu is not None and not 0 < goal.mfu <= 1:
        p.append(f"--mfu: {goal.mfu} is not a utilisation; expected a fraction in (0, 1], e.g. 0.4")
    validate_selection(p, goal.accelerators, goal.clouds, goal.regions)
    if p:
        raise SizingError(p)


def replica_throughput(params: float, weights_bytes: float, kv_per_seq: float, devices: int, peak_tflops: float,
                       bandwidth_gbs: float, usable_bytes_per_device: float, prompt_tokens: int, output_tokens: int,
                       mfu: float, a: Assumptions) -> Throughput | None:
    """Batch, decode step, prefill time and requests/s of one replica; None if one sequence does not fit."""
    room = devices * usable_bytes_per_device - weights_bytes
    if room < kv_per_seq:
        return None
    batch = int(min(room // kv_per_seq, a["serving_max_batch"]))
    flops_rate = devices * peak_tflops * 1e12 * mfu
    byte_rate = devices * bandwidth_gbs * 1e9 * a["serving_memory_bandwidth_utilisation"]
    memory_time = (weights_bytes + batch * kv_per_seq) / byte_rate
    compute_time = 2 * params * batch / flops_rate
    step = max(memory_time, compute_time)
    prefill = 2 * params * prompt_tokens / flops_rate
    rps = 1.0 / (prefill + output_tokens * step / batch)
    return Throughput(batch, step, prefill, rps)


def plan_serving(goal: ServingGoal, assumptions: Assumptions | None = None) -> ServingPlan:
    validate_serving_goal(goal)
    a = (assumptions or default_assumptions()).with_mfu(goal.mfu)
    shape = model_shape(goal.params, a, goal.layers, goal.hidden)
    output = goal.output_tokens or int(a["serving_output_tokens"])
    if output >= goal.context:
        raise SizingError([f"--context: {goal.context} leaves no room for a prompt with {output} output tokens; "
                           "raise --context or pass --output-tokens"])
    weights = goal.params * goal.quantization.bytes_per_param
    kv_tok = kv_bytes_per_token(shape, a)
    cands = [_size(goal, o, a, weights, kv_tok * goal.context, output)
             for o in offerings() if _selected(goal, o)]
    ranked = tuple(sorted(cands, key=lambda c: (not c.feasible, c.cost_per_month_usd is None,
                                                c.cost_per_month_usd or 0.0, c.region, c.instance_or_slice)))
    rec = next((c for c in ranked if c.feasible), None)
    return ServingPlan(goal, a, shape, goal.rps, output, weights, kv_tok, ranked, rec)


def _selected(goal: ServingGoal, o: Offering) -> bool:
    if goal.accelerators and o.chip.name not in goal.accelerators:
        return False
    if goal.clouds and o.cloud not in goal.clouds:
        return False
    return not goal.regions or o.region in goal.regions


def _size(goal: ServingGoal, o: Offering, a: Assumptions, weights: float, kv_seq: float,
          output: int) -> ServingCandidate:
    """The offering's best replica: the instance itself, or the TPU slice size with the lowest monthly cost."""
    if not o.is_tpu:
        return _size_replica(goal, o, a, weights, kv_seq, output, o.chips_per_unit, o.name)
    options = [_size_replica(goal, o, a, weights, kv_seq, output, s.chips, s.accelerator_type)
               for s in (tpu_slice(f"{o.name}-{size}") for size in o.tpu_sizes)]
    feasible = [c for c in options if c.feasible and c.cost_per_month_usd is not None]
    if feasible:
        return min(feasible, key=lambda c: (c.cost_per_month_usd, c.devices_per_replica))
    return options[-1]


def _size_replica(goal: ServingGoal, o: Offering, a: Assumptions, weights: float, kv_seq: float, output: int,
                  devices: int, label: str) -> ServingCandidate:
    chip = o.chip
    usable = chip.memory_gib * GIB * a["usable_memory_fraction"]
    mfu = a.mfu_for(chip.name).value
    reasons: list[str] = []
    notes: list[str] = []
    prompt = goal.context - output
    tp = None
    if chip.memory_bandwidth_gbs <= 0:
        reasons.append(f"the catalog has no memory bandwidth for {chip.name}; decode speed cannot be sized")
    else:
        tp = replica_throughput(goal.params, weights, kv_seq, devices, chip.bf16_tflops, chip.memory_bandwidth_gbs,
                                usable, prompt, output, mfu, a)
        if tp is None:
            reasons.append(f"weights {weights / 1e9:,.1f} GB + one {goal.context}-token sequence "
                           f"{kv_seq / 1e9:,.1f} GB exceed {devices} x {usable / GIB:,.1f} GiB usable on {chip.name}")
    replicas = 0
    if tp is not None:
        replicas = max(int(a["serving_min_replicas"]), math.ceil(goal.rps / tp.rps))
    hourly, market = _price(o, label, goal.spot, reasons)
    if market == "spot":
        notes.append("spot replicas can be reclaimed: keep on-demand capacity for the minimum replicas")
    if devices > 1:
        notes.append(f"tensor parallel across the {devices} {'chips of the slice' if o.is_tpu else 'GPUs'}")
    cost = hourly * replicas * HOURS_PER_MONTH if hourly is not None and tp is not None else None
    return ServingCandidate(
        cloud=o.cloud, region=o.region, accelerator=chip.name, instance_or_slice=label, devices_per_replica=devices,
        batch=tp.batch if tp else 0, rps_per_replica=tp.rps if tp else 0.0, replicas=replicas, hourly_usd=hourly,
        cost_per_month_usd=cost, market=market, feasible=not reasons, reasons=tuple(reasons), notes=tuple(notes),
        memory_per_replica_gib=devices * chip.memory_gib, decode_step_ms=tp.decode_step_s * 1e3 if tp else 0.0,
        offering=o,
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

"""Training sizing: from a goal (parameters, tokens, deadline or budget) to ranked, priced candidates.

For every offering in the catalog (AWS instance types, GCP machine types, TPU slices) in
every region it is priced, `plan_training` computes how many accelerators the job needs
(to fit in memory, and to finish by the deadline), the wall-clock, the cost on-demand and
spot, which ZeRO stage fits, whether the network keeps up with the gradient traffic and
which bandwidth tier to ask for, then ranks by cost and marks the cheapest feasible one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from aiinfra.catalog import closest
from aiinfra.catalog.canonical import accelerator_aliases
from aiinfra.catalog.prices import PriceError, hourly_price
from aiinfra.catalog.tpu import tpu_slice
from aiinfra.preflight.quotas import quota_table
from aiinfra.sizing.assumptions import Assumptions, default_assumptions
from aiinfra.sizing.errors import SizingError
from aiinfra.sizing.formulas import (
    GIB,
    ModelShape,
    Optimizer,
    Sharding,
    accelerator_hours,
    activation_bytes,
    allreduce_bytes_per_step,
    checkpoint_bytes,
    lightest_sharding,
    memory_per_device_bytes,
    min_devices_to_fit,
    model_shape,
    show_number,
    state_bytes_per_param,
    training_flops,
    training_flops_from_samples,
)
from aiinfra.sizing.hardware import Chip, Offering, chip_name, chips, offerings

__all__ = [
    "TRAINING_ASSUMPTION_KEYS",
    "Candidate",
    "TrainingGoal",
    "TrainingPlan",
    "plan_training",
    "validate_training_goal",
]

CLOUDS = ("aws", "gcp")
PRECISIONS = ("bf16", "fp16")
MFU_SENSITIVITY = -0.10
"""The 'what if utilisation is 10 points lower' view every plan carries."""

# Assumption keys every training plan prints (MFU rows are added per accelerator family).
TRAINING_ASSUMPTION_KEYS = (
    "flops_per_param_token", "training_over_forward_flops", "bytes_weights", "bytes_gradients",
    "bytes_optimizer_adam", "bytes_optimizer_sgd", "activation_bytes_per_token_per_hidden_per_layer",
    "checkpointed_activation_bytes_per_token_per_hidden_per_layer", "params_per_layer_hidden_squared",
    "hidden_per_layer", "head_dim", "seq_len", "global_batch", "usable_memory_fraction",
    "dataset_bytes_per_token", "checkpoints_kept", "checkpoint_write_seconds", "goodput_expected",
    "goodput_pessimistic", "pessimistic_mfu_factor", "max_run_days", "fsx_throughput_mbps_per_tib",
    "allreduce_bytes_factor", "zero3_traffic_over_ddp",
)


@dataclass(frozen=True)
class TrainingGoal:
    """What the user wants trained. Either `tokens`, or `samples` with `flops_per_sample`."""

    params: float
    tokens: float | None = None
    samples: float | None = None
    flops_per_sample: float | None = None
    """Forward-pass FLOPs per sample (training = 3x)."""
    bytes_per_sample: float | None = None
    """Stored bytes per sample (dataset size and read bandwidth in samples mode)."""
    deadline_hours: float | None = None
    budget_usd: float | None = None
    precision: str = "bf16"
    optimizer: Optimizer = Optimizer.ADAM
    seq_len: int | None = None
    """Tokens per sequence; default from the assumptions."""
    global_batch: int | None = None
    """Sequences (or samples) per optimizer step; default from the assumptions."""
    layers: int | None = None
    hidden: int | None = None
    accelerators: tuple[str, ...] = ()
    """Restrict candidates to these chips (`h100`, `v5p`; other spellings such as `tpu-v5p` resolve); empty: all."""
    clouds: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    spot: bool = False
    """Spot capacity allowed: rank by the spot price where there is one."""
    mfu: float | None = None
    """Override every family's utilisation with one figure."""
    checkpoints_kept: int | None = None
    dataset_gb: float | None = None
    """Dataset size on shared storage, GB; default tokens x bytes per token."""
    max_days: float | None = None
    """Without a deadline, warn above this many days of wall-clock; default from the assumptions."""


@dataclass(frozen=True)
class NetworkCheck:
    tier: str
    """`standard`, `enhanced` or `ultra` (components/network/tiers.py)."""
    participants: int
    """Nodes (GPU instances) or chips (TPU ICI) that exchange gradients."""
    bytes_per_step: float
    required_gbps: float
    available_gbps: float
    link: str
    """What `available_gbps` is: the instance NIC(s) or the TPU chip's ICI."""

    @property
    def keeps_up(self) -> bool:
        return self.required_gbps <= self.available_gbps

    def to_json(self) -> dict[str, Any]:
        return {"tier": self.tier, "participants": self.participants,
                "gb_per_step": round(self.bytes_per_step / 1e9, 3), "required_gbps": round(self.required_gbps, 2),
                "available_gbps": self.available_gbps, "link": self.link, "keeps_up": self.keeps_up}


@dataclass(frozen=True)
class Candidate:
    """One way to run the job: an offering in a region, a count, hours and cost."""

    cloud: str
    region: str
    accelerator: str
    instance_or_slice: str
    """Instance/machine type, or TPU accelerator type (`v5p-128`)."""
    units: int
    """Instances (GPUs) or slices (TPUs, always 1)."""
    count: int
    """Accelerators in total."""
    hours: float
    """Expected wall-clock hours: compute at the family's MFU, divided by the expected goodput."""
    accelerator_hours: float
    cost_on_demand_usd: float | None
    cost_spot_usd: float | None
    market: str
    """Which price `cost_usd` uses: `on-demand` or `spot`."""
    feasible: bool
    reasons: tuple[str, ...]
    """Why it is not feasible (empty when feasible)."""
    notes: tuple[str, ...]
    """Quota, preemption and other things to know that do not rule it out."""
    mfu: float
    min_to_fit: int | None
    sharding: str | None
    memory_per_device_gib: float | None
    network: NetworkCheck | None
    hourly_usd: float | None
    """Price per hour of the whole configuration in `market`."""
    offering: Offering = field(repr=False, compare=False)
    pessimistic_hours: float = 0.0
    """Wall-clock hours at the pessimistic MFU and goodput."""

    @property
    def cost_usd(self) -> float | None:
        return self.cost_spot_usd if self.market == "spot" else self.cost_on_demand_usd

    @property
    def pessimistic_cost_usd(self) -> float | None:
        """The same configuration's cost for the pessimistic hours, in `market`."""
        return None if self.hourly_usd is None else self.hourly_usd * self.pessimistic_hours

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.cloud, self.region, self.instance_or_slice)

    def to_json(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud,
            "region": self.region,
            "accelerator": self.accelerator,
            "instance_or_slice": self.instance_or_slice,
            "units": self.units,
            "count": self.count,
            "hours": round(self.hours, 2),
            "accelerator_hours": round(self.accelerator_hours, 1),
            "pessimistic_hours": round(self.pessimistic_hours, 2),
            "pessimistic_cost_usd": _money(self.pessimistic_cost_usd),
            "cost_usd": _money(self.cost_usd),
            "cost_on_demand_usd": _money(self.cost_on_demand_usd),
            "cost_spot_usd": _money(self.cost_spot_usd),
            "market": self.market,
            "feasible": self.feasible,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "mfu": self.mfu,
            "min_to_fit": self.min_to_fit,
            "sharding": self.sharding,
            "memory_per_device_gib": (None if self.memory_per_device_gib is None
                                      else round(self.memory_per_device_gib, 1)),
            "network": self.network.to_json() if self.network else None,
        }


@dataclass(frozen=True)
class TrainingPlan:
    goal: TrainingGoal
    assumptions: Assumptions
    flops: float
    flops_basis: str
    shape: ModelShape
    seq_len: int
    global_batch: int
    steps: float
    activation_bytes: float
    checkpoint_bytes: float
    checkpoints_kept: int
    dataset_bytes: float
    candidates: tuple[Candidate, ...]
    recommended: Candidate | None
    sensitivity: dict[str, Any]
    warnings: tuple[str, ...] = ()
    """Things the plan meets but a team would not accept as is (e.g. a run of many months)."""
    alternative: Candidate | None = None
    """Without a deadline, when the run is too long: the cheapest plan that finishes in `max_run_days`."""

    @property
    def storage_bytes(self) -> float:
        return self.checkpoint_bytes * self.checkpoints_kept + self.dataset_bytes

    def memory_table(self) -> list[dict[str, Any]]:
        """Model state and activations per device for each ZeRO stage, at 1 device and at the plan's count."""
        w, g, o = state_bytes_per_param(self.goal.optimizer, self.assumptions)
        at = self.recommended.count if self.recommended else 1

        def gib(devices: int, stage: Sharding) -> float:
            used = memory_per_device_bytes(self.goal.params, devices, stage, self.goal.optimizer,
                                           self.activation_bytes, self.assumptions)
            return round(used / GIB, 1)

        rows = [{"sharding": stage.value, "gib_per_device_at_1": gib(1, stage), "devices": at,
                 "gib_per_device": gib(at, stage)} for stage in Sharding]
        return [{"bytes_per_param": {"weights": w, "gradients": g, "optimizer": o, "total": w + g + o},
                 "activations_gib": round(self.activation_bytes / GIB, 2)}, *rows]

    def bandwidth(self, c: Candidate | None = None) -> dict[str, float]:
        """Data-loading and checkpoint-write bandwidth (MB/s) for a candidate (default: the recommended)."""
        c = c or self.recommended
        if c is None or c.hours <= 0:
            return {"data_read_mbps": 0.0, "checkpoint_write_mbps": 0.0}
        read = self.dataset_bytes / (c.hours * 3600) / 1e6
        write = self.checkpoint_bytes / self.assumptions["checkpoint_write_seconds"] / 1e6
        return {"data_read_mbps": round(read, 1), "checkpoint_write_mbps": round(write, 1)}

    def assumptions_json(self) -> list[dict[str, Any]]:
        """Every assumption this plan used, with value, unit and source (MFU once per family)."""
        return self.assumptions.used(TRAINING_ASSUMPTION_KEYS, tuple(sorted({c.accelerator for c in self.candidates})),
                                     self.goal.params)

    def to_json(self) -> dict[str, Any]:
        g = self.goal
        return {
            "inputs": {
                "params": g.params, "tokens": g.tokens, "samples": g.samples, "flops_per_sample": g.flops_per_sample,
                "deadline_hours": g.deadline_hours, "budget_usd": g.budget_usd, "precision": g.precision,
                "optimizer": g.optimizer.value, "seq_len": self.seq_len, "global_batch": self.global_batch,
                "layers": self.shape.layers, "hidden": self.shape.hidden, "shape_derived": self.shape.derived,
                "accelerators": list(g.accelerators), "clouds": list(g.clouds), "regions": list(g.regions),
                "spot": g.spot,
            },
            "assumptions": self.assumptions_json(),
            "compute": {
                "training_flops": self.flops, "basis": self.flops_basis, "steps": round(self.steps),
            },
            "memory": self.memory_table(),
            "storage": {
                "checkpoint_gb": round(self.checkpoint_bytes / 1e9, 1), "checkpoints_kept": self.checkpoints_kept,
                "dataset_gb": round(self.dataset_bytes / 1e9, 1), "total_gb": round(self.storage_bytes / 1e9, 1),
                **self.bandwidth(),
            },
            "candidates": [c.to_json() for c in self.candidates],
            "recommended": self.recommended.to_json() if self.recommended else None,
            "sensitivity": self.sensitivity,
            "warnings": list(self.warnings),
            "alternative": self.alternative.to_json() if self.alternative else None,
        }


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


# ----------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------


def known_accelerators() -> list[str]:
    return sorted(chips())


def validate_training_goal(goal: TrainingGoal) -> None:
    """Raise SizingError listing every problem with the goal (option, value, what is allowed)."""
    p: list[str] = []
    _positive(p, "--params", goal.params)
    if goal.tokens is None and goal.samples is None:
        p.append("--tokens: is required (or --samples with --flops-per-sample)")
    if goal.tokens is not None and goal.samples is not None:
        p.append("--tokens and --samples: give one, not both (tokens for transformers, samples for other models)")
    if goal.tokens is not None:
        _positive(p, "--tokens", goal.tokens)
    if goal.samples is not None:
        _positive(p, "--samples", goal.samples)
        if goal.flops_per_sample is None:
            p.append("--flops-per-sample: is required with --samples (forward-pass FLOPs of one sample)")
    if goal.flops_per_sample is not None:
        _positive(p, "--flops-per-sample", goal.flops_per_sample)
    if goal.deadline_hours is not None and goal.budget_usd is not None:
        p.append("--deadline-hours and --budget-usd: give one, not both (a deadline sizes the cluster; "
                 "a budget caps the cost of the smallest one that fits)")
    if goal.deadline_hours is not None:
        _positive(p, "--deadline-hours", goal.deadline_hours)
    if goal.budget_usd is not None:
        _positive(p, "--budget-usd", goal.budget_usd)
    if goal.precision not in PRECISIONS:
        p.append(f"--precision: {goal.precision!r} is not allowed; expected one of {', '.join(PRECISIONS)}")
    for name, value in (("--seq-len", goal.seq_len), ("--global-batch", goal.global_batch),
                        ("--layers", goal.layers), ("--hidden", goal.hidden),
                        ("--checkpoints-kept", goal.checkpoints_kept)):
        if value is not None and value < 1:
            p.append(f"{name}: {value} must be a positive whole number")
    if goal.mfu is not None and not 0 < goal.mfu <= 1:
        p.append(f"--mfu: {goal.mfu} is not a utilisation; expected a fraction in (0, 1], e.g. 0.4")
    if goal.mfu is not None and goal.mfu <= -MFU_SENSITIVITY:
        p.append(f"--mfu: {goal.mfu} leaves nothing for the 10-points-lower view; expected more than 0.1")
    if goal.dataset_gb is not None and goal.dataset_gb < 0:
        p.append(f"--dataset-gb: {goal.dataset_gb} must not be negative")
    if goal.max_days is not None:
        _positive(p, "--max-days", goal.max_days)
        if goal.deadline_hours is not None:
            p.append("--max-days: applies to plans without a deadline; --deadline-hours already bounds the run")
    validate_selection(p, goal.accelerators, goal.clouds, goal.regions)
    if p:
        raise SizingError(p)


def validate_selection(p: list[str], accels: tuple[str, ...], clouds: tuple[str, ...],
                       regions: tuple[str, ...]) -> None:
    known = known_accelerators()
    spellings = [a for a, c in accelerator_aliases().items() if c in known]
    for name in accels:
        if chip_name(name) not in known:
            best = closest(name, spellings)
            hint = f"; did you mean {chip_name(best[0])!r}?" if best else ""
            p.append(f"--accelerator: {name!r} is not a known accelerator{hint} (known: {', '.join(known)})")
    for cloud in clouds:
        if cloud not in CLOUDS:
            p.append(f"--cloud: {cloud!r} is not allowed; expected one of {', '.join(CLOUDS)}")
    all_regions = sorted({o.region for o in offerings()})
    for region in regions:
        if region not in all_regions:
            best = closest(region, all_regions)
            hint = f"; did you mean {best[0]!r}?" if best else ""
            p.append(f"--region: {region!r} has no priced accelerators{hint}")


def _positive(p: list[str], name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        p.append(f"{name}: {show_number(value)} must be a positive number" if isinstance(value, (int, float))
                 else f"{name}: {value!r} must be a positive number")


# ----------------------------------------------------------------------------------------
# Planning
# ----------------------------------------------------------------------------------------


def plan_training(goal: TrainingGoal, assumptions: Assumptions | None = None,
                  _sensitivity: bool = True) -> TrainingPlan:
    """Size the goal on every matching offering; raises SizingError for bad input."""
    validate_training_goal(goal)
    a = (assumptions or default_assumptions()).with_mfu(goal.mfu)
    seq_len = goal.seq_len or int(a["seq_len"])
    batch = goal.global_batch or int(a["global_batch"])
    shape = model_shape(goal.params, a, goal.layers, goal.hidden)
    if goal.tokens is not None:
        flops = training_flops(goal.params, goal.tokens, a)
        basis = (f"{a['flops_per_param_token']:g} x parameters x tokens (dense transformer, Kaplan et al. 2020; "
                 "attention FLOPs not counted)")
        steps = goal.tokens / (batch * seq_len)
        acts = activation_bytes(shape, seq_len, a)
        dataset = goal.tokens * a["dataset_bytes_per_token"]
    else:
        assert goal.samples is not None and goal.flops_per_sample is not None
        flops = training_flops_from_samples(goal.samples, goal.flops_per_sample, a)
        basis = f"{a['training_over_forward_flops']:g} x samples x forward FLOPs per sample (backward = 2 x forward)"
        steps = goal.samples / batch
        # A non-transformer's activations are not derivable from its parameter count.
        acts = 0.0
        dataset = goal.samples * (goal.bytes_per_sample or 0.0)
    if goal.dataset_gb is not None:
        dataset = goal.dataset_gb * 1e9
    kept = goal.checkpoints_kept or int(a["checkpoints_kept"])
    ckpt = checkpoint_bytes(goal.params, goal.optimizer, a)

    cands = [
        _size(goal, o, a, flops, acts, steps, batch)
        for o in offerings()
        if _selected(goal, o)
    ]
    ranked = tuple(sorted(cands, key=_rank))
    recommended = next((c for c in ranked if c.feasible), None)
    sensitivity: dict[str, Any] = {}
    warnings: list[str] = []
    alternative = None
    if _sensitivity:
        sensitivity = _sensitivity_view(goal, a, recommended)
        warnings, alternative = _too_long(goal, a, recommended)
    return TrainingPlan(goal, a, flops, basis, shape, seq_len, batch, steps, acts, ckpt, kept, dataset, ranked,
                        recommended, sensitivity, tuple(warnings), alternative)


def _too_long(goal: TrainingGoal, a: Assumptions, rec: Candidate | None) -> tuple[list[str], Candidate | None]:
    """Without a deadline, a run longer than `max_run_days` warns and gets the deadline-driven alternative."""
    if goal.deadline_hours is not None or rec is None:
        return [], None
    days = goal.max_days or a["max_run_days"]
    if rec.hours <= days * 24:
        return [], None
    what = f"the ${goal.budget_usd:,.0f} budget" if goal.budget_usd is not None else "no deadline"
    warning = (f"with {what} the cheapest plan runs {rec.hours / 24:,.0f} days ({rec.hours:,.0f} h) on "
               f"{rec.count} x {rec.accelerator}, over the {days:g}-day limit (--max-days)")
    alt_goal = replace(goal, deadline_hours=days * 24, budget_usd=None, max_days=None)
    alt = plan_training(alt_goal, a.with_mfu(goal.mfu), _sensitivity=False).recommended
    if alt is None:
        return [warning + f"; no configuration finishes in {days:g} days"], None
    more = ""
    if goal.budget_usd is not None and alt.cost_usd is not None and alt.cost_usd > goal.budget_usd:
        more = f", ${alt.cost_usd - goal.budget_usd:,.0f} over the budget"
    return [warning + f"; finishing in {days:g} days costs {_usd(alt.cost_usd)}{more}"], alt


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.0f}"


def _selected(goal: TrainingGoal, o: Offering) -> bool:
    if goal.accelerators and o.chip.name not in {chip_name(a) for a in goal.accelerators}:
        return False
    if goal.clouds and o.cloud not in goal.clouds:
        return False
    return not goal.regions or o.region in goal.regions


def _rank(c: Candidate) -> tuple[bool, bool, float, str, str]:
    cost = c.cost_usd
    return (not c.feasible, cost is None, cost if cost is not None else 0.0, c.region, c.instance_or_slice)


def _size(goal: TrainingGoal, o: Offering, a: Assumptions, flops: float, acts: float, steps: float,
          batch: int) -> Candidate:
    chip: Chip = o.chip
    mfu = a.mfu_for(chip.name, goal.params).value
    # Expected: compute at the family's MFU, stretched by the share of wall-clock lost to failures,
    # restarts, checkpoint stalls and evaluation. Pessimistic: lower MFU and lower goodput.
    acc_hours = accelerator_hours(flops, chip.bf16_tflops, mfu) / a["goodput_expected"]
    pessimistic_acc_hours = (accelerator_hours(flops, chip.bf16_tflops, mfu * a["pessimistic_mfu_factor"])
                             / a["goodput_pessimistic"])
    usable = chip.memory_gib * GIB * a["usable_memory_fraction"]
    reasons: list[str] = []
    notes: list[str] = []

    min_fit = min_devices_to_fit(goal.params, usable, acts, goal.optimizer, a)
    if min_fit is None:
        reasons.append(f"one sequence's activations ({acts / GIB:.1f} GiB) exceed the usable "
                       f"{usable / GIB:.1f} GiB of a {chip.name}; needs tensor/sequence parallelism (not sized "
                       "here) or a shorter --seq-len")
    needed = max(1, min_fit or 1)
    if goal.deadline_hours:
        needed = max(needed, math.ceil(acc_hours / goal.deadline_hours))

    if o.is_tpu:
        units, count, label = 1, needed, ""
        chosen = _tpu_size(o, needed)
        if chosen is None:
            largest = tpu_slice(f"{o.name}-{o.tpu_sizes[-1]}")
            reasons.append(f"needs {needed} chips; the largest {chip.tpu_generation} slice is "
                           f"{largest.accelerator_type} ({largest.chips} chips) and multislice is not sized here")
            count, label = largest.chips, largest.accelerator_type
        else:
            count, label = chosen
    else:
        units = math.ceil(needed / o.chips_per_unit)
        count, label = units * o.chips_per_unit, o.name

    hours = acc_hours / count
    sharding = lightest_sharding(goal.params, count, usable, acts, goal.optimizer, a) if min_fit else None
    mem = (memory_per_device_bytes(goal.params, count, sharding, goal.optimizer, acts, a) / GIB
           if sharding else None)
    if min_fit and sharding is None:
        reasons.append(f"model state does not fit {count} x {chip.name} even fully sharded (needs {min_fit})")

    if goal.deadline_hours and hours > goal.deadline_hours:
        reasons.append(f"takes {hours:,.0f} h at {count} x {chip.name}, over the {goal.deadline_hours:g} h deadline")
    if count > batch:
        reasons.append(f"{count} data-parallel ranks exceed the global batch of {batch} sequences; raise "
                       "--global-batch or the deadline (tensor/pipeline parallelism is not sized here)")
    if goal.precision == "fp16" and o.is_tpu:
        reasons.append("TPUs compute in bf16, not fp16; use --precision bf16")

    net = _network(goal, o, a, count, units, sharding or Sharding.ZERO3, hours, steps)
    if net is not None and not net.keeps_up:
        reasons.append(f"gradient sync needs {net.required_gbps:,.0f} Gbit/s per {'chip' if o.is_tpu else 'node'} "
                       f"but the {net.link} gives {net.available_gbps:,.0f}; the assumed MFU would not hold")

    od, spot, od_rate, spot_rate = _costs(o, label, units, hours, reasons)
    market = "spot" if goal.spot and spot is not None else "on-demand"
    if goal.spot and spot is None and o.spot_available:
        notes.append("no spot price in the catalog; ranked on-demand")
    if market == "spot":
        notes.append("spot capacity can be reclaimed at any time: checkpoint often and expect restarts")
    cost = spot if market == "spot" else od
    if goal.budget_usd is not None and cost is not None and cost > goal.budget_usd:
        reasons.append(f"costs ${cost:,.0f} ({market}), over the ${goal.budget_usd:,.0f} budget")
    notes.extend(_quota_notes(o, units, count, label, market))

    return Candidate(
        cloud=o.cloud, region=o.region, accelerator=chip.name, instance_or_slice=label, units=units, count=count,
        hours=hours, accelerator_hours=hours * count, cost_on_demand_usd=od, cost_spot_usd=spot, market=market,
        feasible=not reasons, reasons=tuple(reasons), notes=tuple(notes), mfu=mfu, min_to_fit=min_fit,
        sharding=sharding.value if sharding else None, memory_per_device_gib=mem, network=net,
        hourly_usd=spot_rate if market == "spot" else od_rate, offering=o,
        pessimistic_hours=pessimistic_acc_hours / count,
    )


def _tpu_size(o: Offering, chips_needed: int) -> tuple[int, str] | None:
    """The smallest valid slice with at least `chips_needed` chips: (chips, accelerator type)."""
    for size in o.tpu_sizes:
        s = tpu_slice(f"{o.name}-{size}")
        if s.chips >= chips_needed:
            return s.chips, s.accelerator_type
    return None


def _network(goal: TrainingGoal, o: Offering, a: Assumptions, count: int, units: int, sharding: Sharding,
             hours: float, steps: float) -> NetworkCheck | None:
    """Gradient traffic per step against the link that carries it, and the tier to ask for."""
    step_s = hours * 3600 / steps if steps > 0 else 0.0
    if o.is_tpu:
        # Inside one slice gradients travel over ICI; the host network only feeds data.
        participants, link, tier = count, "TPU inter-chip interconnect (ICI) per chip", "standard"
    else:
        participants, link = units, f"{o.name} network"
        if o.cloud == "aws":
            # EFA (OS bypass) is what keeps NCCL near line rate across nodes; it needs `ultra`.
            tier = "standard" if units == 1 else ("ultra" if o.efa else "enhanced")
        elif units == 1:
            # A3 boots only with gVNIC, which `standard` does not enable.
            tier = "enhanced" if o.gvnic_required else "standard"
        else:
            # `ultra` adds MTU 8896 on top of compact placement: worth it where the NICs are 1 Tbit/s+.
            tier = "ultra" if o.compact_placement and o.network_gbps >= 1000 else "enhanced"
    volume = allreduce_bytes_per_step(goal.params, participants, sharding, a)
    required = volume * 8 / 1e9 / step_s if step_s > 0 else 0.0
    return NetworkCheck(tier, participants, volume, required, o.network_gbps, link)


def _costs(o: Offering, label: str, units: int, hours: float,
           reasons: list[str]) -> tuple[float | None, float | None, float | None, float | None]:
    try:
        od_rate = hourly_price(label, o.region, "on-demand").hourly_usd * units
    except PriceError as exc:
        reasons.append(f"no price: {exc}")
        od_rate = None
    try:
        spot_rate = hourly_price(label, o.region, "spot").hourly_usd * units if o.spot_available else None
    except PriceError:
        spot_rate = None
    od = od_rate * hours if od_rate is not None else None
    spot = spot_rate * hours if spot_rate is not None else None
    return od, spot, od_rate, spot_rate


def _quota_notes(o: Offering, units: int, count: int, label: str, market: str) -> list[str]:
    if o.cloud == "aws":
        q = quota_table().for_instance_type(o.name, spot=market == "spot")
        return [f"needs {units * o.vcpu} vCPUs of EC2 quota '{q.name}' ({q.code}) in {o.region}"]
    if o.is_tpu:
        return [f"needs TPU quota for {count} {o.chip.tpu_generation} chips ({label}) in {o.tpu_zone}"]
    return [f"needs Compute Engine quota for {count} {o.chip.name} GPUs"
            f"{' (preemptible)' if market == 'spot' else ''} in {o.region}"]


def _sensitivity_view(goal: TrainingGoal, a: Assumptions, recommended: Candidate | None) -> dict[str, Any]:
    """The same goal with every MFU 10 points lower: the recommended configuration's numbers, and the new pick."""
    lower = plan_training(replace(goal, mfu=None), a.shifted_mfu(MFU_SENSITIVITY), _sensitivity=False) \
        if goal.mfu is None else plan_training(replace(goal, mfu=goal.mfu + MFU_SENSITIVITY), a, _sensitivity=False)
    same = None
    if recommended is not None:
        same = next((c for c in lower.candidates
                     if (c.cloud, c.region, c.offering.name) == (recommended.cloud, recommended.region,
                                                                  recommended.offering.name)), None)
    return {
        "mfu_delta": MFU_SENSITIVITY,
        "same_configuration": same.to_json() if same else None,
        "recommended": lower.recommended.to_json() if lower.recommended else None,
    }

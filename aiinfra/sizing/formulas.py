"""The sizing formulas as pure functions: FLOPs, memory, checkpoint, traffic, KV cache.

Each takes its constants from an `Assumptions` object (values with sources), so the numbers
printed next to a plan are the numbers that produced it. Units are in the names: `_bytes`,
`_hours`, `_gbps` (Gbit/s), `_tflops` (10^12 FLOP/s).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from aiinfra.sizing.assumptions import Assumptions

__all__ = [
    "GIB",
    "ModelShape",
    "Optimizer",
    "Quantization",
    "Sharding",
    "accelerator_hours",
    "activation_bytes",
    "allreduce_bytes_per_step",
    "checkpoint_bytes",
    "kv_bytes_per_token",
    "memory_per_device_bytes",
    "min_devices_to_fit",
    "model_shape",
    "show_number",
    "state_bytes_per_param",
    "training_flops",
    "training_flops_from_samples",
]

GIB = 2**30


def show_number(value: float) -> str:
    """A count as users type it: 7e9, 2e12, 0.5, 1024 (for messages and headers)."""
    text = f"{value:.4g}"
    return re.sub(r"e\+?(-?)0*(\d)", r"e\1\2", text)


class Optimizer(StrEnum):
    ADAM = "adam"
    """Adam/AdamW with fp32 master weights and two fp32 moments."""
    SGD = "sgd"
    """SGD with momentum and fp32 master weights."""


class Sharding(StrEnum):
    """How model state is split across data-parallel ranks (ZeRO stages; FSDP FULL_SHARD is stage 3)."""

    NONE = "ddp"
    """Every rank holds everything (plain data parallel)."""
    ZERO1 = "zero1"
    """Optimizer state sharded."""
    ZERO2 = "zero2"
    """Optimizer state and gradients sharded."""
    ZERO3 = "zero3"
    """Optimizer state, gradients and parameters sharded (FSDP FULL_SHARD)."""


class Quantization(StrEnum):
    """Weight precision for serving."""

    FP16 = "fp16"
    INT8 = "int8"
    INT4 = "int4"

    @property
    def bytes_per_param(self) -> float:
        return {"fp16": 2.0, "int8": 1.0, "int4": 0.5}[self.value]


@dataclass(frozen=True)
class ModelShape:
    layers: int
    hidden: int
    derived: bool
    """True when derived from the parameter count (not given by the user)."""


def training_flops(params: float, tokens: float, a: Assumptions) -> float:
    """Total training FLOPs of a dense transformer: 6 x parameters x tokens (Kaplan et al. 2020)."""
    return a["flops_per_param_token"] * params * tokens


def training_flops_from_samples(samples: float, forward_flops_per_sample: float, a: Assumptions) -> float:
    """Total training FLOPs from forward FLOPs per sample: forward + backward = 3 x forward."""
    return a["training_over_forward_flops"] * samples * forward_flops_per_sample


def accelerator_hours(flops: float, peak_tflops: float, mfu: float) -> float:
    """Accelerator-hours to execute `flops` at `mfu` of the accelerator's peak."""
    return flops / (peak_tflops * 1e12 * mfu) / 3600.0


def model_shape(params: float, a: Assumptions, layers: int | None = None, hidden: int | None = None) -> ModelShape:
    """Layers and hidden size: the user's, or derived from params = 12 L h^2 with h = ratio x L.

    Given one of the two, the other follows from the same formula; the hidden size is a
    multiple of the head dimension, as real models are.
    """
    k = a["params_per_layer_hidden_squared"]
    head = int(a["head_dim"])
    if layers and hidden:
        return ModelShape(layers, hidden, derived=False)
    if layers:
        h = math.sqrt(params / (k * layers))
        return ModelShape(layers, max(head, round(h / head) * head), derived=False)
    if hidden:
        return ModelShape(max(1, round(params / (k * hidden * hidden))), hidden, derived=False)
    ratio = a["hidden_per_layer"]
    n_layers = max(1, round((params / (k * ratio * ratio)) ** (1 / 3)))
    h = math.sqrt(params / (k * n_layers))
    return ModelShape(n_layers, max(head, round(h / head) * head), derived=True)


def state_bytes_per_param(optimizer: Optimizer, a: Assumptions) -> tuple[float, float, float]:
    """(weights, gradients, optimizer state) bytes per parameter under mixed precision."""
    key = "bytes_optimizer_adam" if optimizer is Optimizer.ADAM else "bytes_optimizer_sgd"
    return a["bytes_weights"], a["bytes_gradients"], a[key]


def activation_bytes(shape: ModelShape, seq_len: int, a: Assumptions) -> float:
    """Activation memory of one sequence (micro-batch 1) with full activation recomputation.

    Stored: each layer's input (2 s h bytes per layer). Live during one layer's recompute:
    that layer's full activations (34 s h bytes, FlashAttention so no s^2 scores).
    """
    s_h = seq_len * shape.hidden
    kept = a["checkpointed_activation_bytes_per_token_per_hidden_per_layer"] * s_h * shape.layers
    working = a["activation_bytes_per_token_per_hidden_per_layer"] * s_h
    return kept + working


def memory_per_device_bytes(params: float, devices: int, sharding: Sharding, optimizer: Optimizer,
                            activations: float, a: Assumptions) -> float:
    """Model state plus activations on one device, for a ZeRO stage over `devices` ranks (ZeRO, Fig. 1)."""
    w, g, o = state_bytes_per_param(optimizer, a)
    d = max(1, devices)
    if sharding is Sharding.NONE:
        per_param = w + g + o
    elif sharding is Sharding.ZERO1:
        per_param = w + g + o / d
    elif sharding is Sharding.ZERO2:
        per_param = w + (g + o) / d
    else:
        per_param = (w + g + o) / d
    return per_param * params + activations


def min_devices_to_fit(params: float, usable_bytes: float, activations: float, optimizer: Optimizer,
                       a: Assumptions) -> int | None:
    """The fewest devices whose fully sharded (ZeRO-3) state plus activations fit; None if none can."""
    room = usable_bytes - activations
    if room <= 0:
        return None
    w, g, o = state_bytes_per_param(optimizer, a)
    return max(1, math.ceil((w + g + o) * params / room))


def lightest_sharding(params: float, devices: int, usable_bytes: float, activations: float,
                      optimizer: Optimizer, a: Assumptions) -> Sharding | None:
    """The least-sharded ZeRO stage that fits on `devices` (less sharding, less traffic); None if none."""
    for stage in Sharding:
        if memory_per_device_bytes(params, devices, stage, optimizer, activations, a) <= usable_bytes:
            return stage
    return None


def checkpoint_bytes(params: float, optimizer: Optimizer, a: Assumptions) -> float:
    """A resumable checkpoint: 16-bit weights plus the fp32 optimizer state (master weights, moments)."""
    w, _, o = state_bytes_per_param(optimizer, a)
    return (w + o) * params


def allreduce_bytes_per_step(params: float, participants: int, sharding: Sharding, a: Assumptions) -> float:
    """Bytes each participant (node, or TPU chip) sends per optimizer step to synchronise gradients.

    Ring all-reduce of 16-bit gradients moves 2(n-1)/n of the buffer per participant; fully
    sharded parameters add the forward and backward all-gathers (1.5x). One participant: 0.
    """
    n = participants
    if n <= 1:
        return 0.0
    grad_bytes = a["bytes_gradients"] * params
    volume = a["allreduce_bytes_factor"] * (n - 1) / n * grad_bytes
    if sharding is Sharding.ZERO3:
        volume *= a["zero3_traffic_over_ddp"]
    return volume


def kv_bytes_per_token(shape: ModelShape, a: Assumptions) -> float:
    """KV cache per token: 2 (key and value) x layers x hidden x bytes per element (multi-head attention)."""
    return 2 * shape.layers * shape.hidden * a["serving_bytes_kv"]

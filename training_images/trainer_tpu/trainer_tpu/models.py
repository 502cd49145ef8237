"""Flax models for the TPU trainer: an MLP classifier and a byte-level decoder-only LM.

Both are built from the same plain-dict spec the torch trainer stores in its checkpoints
(``kind``, widths, ``vocab``), so a spec describes the model whichever image trained it.
Parameters are fp32; ``dtype`` is the compute dtype (bf16 on TPU).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from flax import linen as nn


class MLP(nn.Module):
    hidden: tuple[int, ...]
    num_classes: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        x = x.reshape(x.shape[0], -1).astype(self.dtype)
        for width in self.hidden:
            x = nn.relu(nn.Dense(width, dtype=self.dtype)(x))
        return nn.Dense(self.num_classes, dtype=self.dtype)(x).astype(jnp.float32)


class Block(nn.Module):
    """Pre-norm transformer block with causal self-attention."""

    d_model: int
    n_heads: int
    ffn_mult: int = 4
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jnp.ndarray, mask: jnp.ndarray) -> jnp.ndarray:
        h = nn.LayerNorm(dtype=self.dtype)(x)
        x = x + nn.MultiHeadDotProductAttention(num_heads=self.n_heads, dtype=self.dtype, deterministic=True)(
            h, h, mask=mask
        )
        h = nn.LayerNorm(dtype=self.dtype)(x)
        h = nn.Dense(self.ffn_mult * self.d_model, dtype=self.dtype)(h)
        return x + nn.Dense(self.d_model, dtype=self.dtype)(nn.gelu(h))


class ByteLM(nn.Module):
    """Decoder-only LM over bytes; the output head is tied to the token embedding."""

    d_model: int
    n_layers: int
    n_heads: int
    seq_len: int
    vocab: int = 256
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, tokens: jnp.ndarray) -> jnp.ndarray:
        embed = nn.Embed(self.vocab, self.d_model, embedding_init=nn.initializers.normal(0.02))
        pos = self.param("pos", nn.initializers.normal(0.02), (self.seq_len, self.d_model))
        t = tokens.shape[1]
        x = (embed(tokens) + pos[:t]).astype(self.dtype)
        mask = nn.make_causal_mask(tokens)
        for _ in range(self.n_layers):
            x = Block(self.d_model, self.n_heads, dtype=self.dtype)(x, mask)
        x = nn.LayerNorm(dtype=self.dtype)(x)
        return embed.attend(x.astype(jnp.float32))


def build(spec: dict[str, Any], dtype: Any = jnp.float32) -> nn.Module:
    if spec["kind"] == "mlp":
        return MLP(tuple(spec["hidden"]), spec["num_classes"], dtype=dtype)
    if spec["kind"] == "lm":
        return ByteLM(spec["d_model"], spec["n_layers"], spec["n_heads"], spec["seq_len"], spec["vocab"], dtype=dtype)
    raise ValueError(f"unknown model kind {spec['kind']!r}")


def example_input(spec: dict[str, Any], batch: int = 1) -> jnp.ndarray:
    if spec["kind"] == "lm":
        return jnp.zeros((batch, spec["seq_len"]), jnp.int32)
    return jnp.zeros((batch, spec["in_features"]), jnp.float32)


def train_flops_per_sample(spec: dict[str, Any], n_params: int) -> float:
    """Training FLOPs for one sample (one sequence for the LM), as the torch trainer counts them.

    Forward + backward = 3x forward; dense layers cost 2 FLOPs per weight per position; the LM
    adds the attention score/value matmuls (PaLM appendix B), position embeddings are a lookup.
    """
    if spec["kind"] == "lm":
        t, d, layers = spec["seq_len"], spec["d_model"], spec["n_layers"]
        dense = n_params - t * d
        return (6.0 * dense + 12.0 * layers * d * t) * t
    return 6.0 * n_params

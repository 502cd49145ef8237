"""Model zoo for the trainer: MLP/CNN classifiers and a byte-level decoder-only LM.

Every model is built from a plain-dict spec that is stored in each checkpoint's
manifest, so other images (the compressor) can rebuild it without this code's
config parsing.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional


class MLP(nn.Module):
    """Fully connected classifier; ``net`` is a flat Sequential so pruning can walk it."""

    def __init__(self, in_features: int, hidden: list[int], num_classes: int, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))


class CNN(nn.Module):
    """Small conv classifier: conv-bn-relu blocks, global average pool, linear head."""

    def __init__(self, in_channels: int, channels: list[int], num_classes: int):
        super().__init__()
        blocks: list[nn.Module] = []
        width = in_channels
        for c in channels:
            blocks += [nn.Conv2d(width, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
            width = c
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


class Block(nn.Module):
    """Pre-norm transformer block with causal self-attention."""

    def __init__(self, d_model: int, n_heads: int, ffn_mult: int = 4):
        super().__init__()
        self.n_heads = n_heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, ffn_mult * d_model)
        self.fc2 = nn.Linear(ffn_mult * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        shape = (b, t, self.n_heads, d // self.n_heads)
        q, k, v = (z.view(shape).transpose(1, 2) for z in (q, k, v))
        att = functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(att.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(functional.gelu(self.fc1(self.ln2(x))))


class ByteLM(nn.Module):
    """Decoder-only transformer over bytes (vocab 256) with learned positions."""

    def __init__(self, d_model: int, n_layers: int, n_heads: int, seq_len: int, vocab: int = 256):
        super().__init__()
        self.seq_len = seq_len
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(seq_len, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_heads) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)
        self.head.weight = self.tok.weight  # tied: fewer parameters, same quality at this size

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.tok(idx) + self.pos(pos)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def build(spec: dict[str, Any]) -> nn.Module:
    """Instantiate a model from its spec dict (see ``spec_for``)."""
    kind = spec.get("kind")
    if kind == "mlp":
        return MLP(spec["in_features"], list(spec["hidden"]), spec["num_classes"], spec.get("dropout", 0.0))
    if kind == "cnn":
        return CNN(spec["in_channels"], list(spec["channels"]), spec["num_classes"])
    if kind == "lm":
        return ByteLM(spec["d_model"], spec["n_layers"], spec["n_heads"], spec["seq_len"], spec.get("vocab", 256))
    raise ValueError(f"model spec kind: {kind!r} is not one of 'mlp', 'cnn', 'lm'")


def count_params(model: nn.Module) -> int:
    # Tied weights appear once in parameters(), which is what FLOPs should count.
    return sum(p.numel() for p in model.parameters())


def train_flops_per_sample(spec: dict[str, Any], model: nn.Module) -> float:
    """Training FLOPs for one sample (one sequence for the LM): forward + backward = 3x forward.

    Dense layers cost 2 FLOPs per weight per position; the LM adds the attention
    score/value matmuls (PaLM appendix B convention), the CNN counts each conv
    at its output resolution.
    """
    kind = spec["kind"]
    if kind == "mlp":
        return 3.0 * 2.0 * count_params(model)
    if kind == "cnn":
        hw = spec["height"] * spec["width"]
        fwd, width = 0.0, spec["in_channels"]
        for c in spec["channels"]:
            fwd += 2.0 * width * c * 9 * hw
            width = c
        fwd += 2.0 * width * spec["num_classes"]
        return 3.0 * fwd
    if kind == "lm":
        t, d, n_layers = spec["seq_len"], spec["d_model"], spec["n_layers"]
        # Position embeddings are a lookup, not a matmul; the tied head is a matmul.
        dense = count_params(model) - spec["seq_len"] * d
        per_token = 6.0 * dense + 12.0 * n_layers * d * t
        return per_token * t
    raise ValueError(f"unknown model kind {kind!r}")


def init_weights(model: nn.Module) -> None:
    """GPT-2 style init for the LM; PyTorch defaults are fine for the classifiers."""
    if not isinstance(model, ByteLM):
        return
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            std = 0.02 / math.sqrt(2 * len(model.blocks)) if name.endswith(("proj.weight", "fc2.weight")) else 0.02
            nn.init.normal_(p, 0.0, std)
        elif name.endswith("bias"):
            nn.init.zeros_(p)

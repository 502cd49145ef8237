"""Rebuilds the trainer's byte-level decoder-only LM and prunes attention heads and FFN neurons structurally.

State-dict keys match ``trainer.models.ByteLM`` (``tok``, ``pos``, ``blocks.N.{ln1,qkv,proj,ln2,fc1,fc2}``,
``ln_f``, tied ``head``). Unlike the trainer's model, every block here carries its own head count and FFN
width, so a pruned model is a smaller dense model: pruning a head removes its rows of ``qkv`` and its
columns of ``proj``; pruning an FFN neuron removes a row of ``fc1`` and a column of ``fc2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from compressor.model import CompressError


@dataclass(frozen=True)
class BlockShape:
    n_heads: int
    ffn_hidden: int


class Block(nn.Module):
    """Pre-norm causal self-attention + GELU FFN, with any number of heads of ``head_dim`` each."""

    def __init__(self, d_model: int, head_dim: int, shape: BlockShape):
        super().__init__()
        self.n_heads, self.head_dim = shape.n_heads, head_dim
        inner = shape.n_heads * head_dim
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * inner)
        self.proj = nn.Linear(inner, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, shape.ffn_hidden)
        self.fc2 = nn.Linear(shape.ffn_hidden, d_model)

    @property
    def shape(self) -> BlockShape:
        return BlockShape(self.n_heads, self.fc1.out_features)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """Per-head attention outputs, [batch, seq, heads, head_dim]."""
        b, t, _ = x.shape
        inner = self.n_heads * self.head_dim
        q, k, v = self.qkv(self.ln1(x)).split(inner, dim=-1)
        q, k, v = (z.reshape(b, t, self.n_heads, self.head_dim).transpose(1, 2) for z in (q, k, v))
        return functional.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        x = x + self.proj(self._heads(x).reshape(b, t, self.n_heads * self.head_dim))
        return x + self.fc2(functional.gelu(self.fc1(self.ln2(x))))

    @torch.no_grad()
    def forward_with_scores(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(output, head importance [heads], FFN neuron importance [ffn_hidden]) on the batch ``x``.

        A head's importance is the mean norm of what it adds to the residual
        stream (its output through its slice of ``proj``); a neuron's is its mean
        |activation| times the norm of its ``fc2`` column. Both measure what
        removing the unit would change, on real data rather than weights alone.
        """
        b, t, _ = x.shape
        heads = self._heads(x)  # [b, t, h, hd]
        w = self.proj.weight.view(-1, self.n_heads, self.head_dim)  # [d, h, hd]
        contrib = torch.einsum("bthe,dhe->bthd", heads, w)
        head_scores = contrib.norm(dim=-1).mean(dim=(0, 1))
        x = x + self.proj(heads.reshape(b, t, -1))
        act = functional.gelu(self.fc1(self.ln2(x)))
        ffn_scores = act.abs().mean(dim=(0, 1)) * self.fc2.weight.norm(dim=0)
        return x + self.fc2(act), head_scores, ffn_scores


class ByteLM(nn.Module):
    """Decoder-only transformer over bytes with learned positions and a tied output head."""

    def __init__(self, d_model: int, head_dim: int, shapes: list[BlockShape], seq_len: int, vocab: int = 256):
        super().__init__()
        self.d_model, self.head_dim, self.seq_len, self.vocab = d_model, head_dim, seq_len, vocab
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(seq_len, d_model)
        self.blocks = nn.ModuleList(Block(d_model, head_dim, s) for s in shapes)
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)
        self.head.weight = self.tok.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.tok(idx) + self.pos(pos)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

    def spec(self) -> dict[str, Any]:
        return {
            "kind": "lm",
            "d_model": self.d_model,
            "head_dim": self.head_dim,
            "seq_len": self.seq_len,
            "vocab": self.vocab,
            "blocks": [{"n_heads": b.n_heads, "ffn_hidden": b.fc1.out_features} for b in self._blocks()],
        }

    def _blocks(self) -> list[Block]:
        return [b for b in self.blocks if isinstance(b, Block)]


def build(d_model: int, n_layers: int, n_heads: int, seq_len: int, vocab: int = 256, seed: int = 0) -> ByteLM:
    """A fresh LM shaped like the trainer's (FFN 4x width), GPT-2 init, e.g. a distillation student."""
    if d_model % n_heads:
        raise CompressError(f"student: d_model {d_model} must be divisible by n_heads {n_heads}")
    torch.manual_seed(seed)
    model = ByteLM(d_model, d_model // n_heads, [BlockShape(n_heads, 4 * d_model)] * n_layers, seq_len, vocab)
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            std = 0.02 / math.sqrt(2 * n_layers) if name.endswith(("proj.weight", "fc2.weight")) else 0.02
            nn.init.normal_(p, 0.0, std)
        elif name.endswith("bias"):
            nn.init.zeros_(p)
    return model


def from_checkpoint(spec: dict[str, Any], state: dict[str, torch.Tensor]) -> ByteLM:
    """The trainer's LM (spec from the checkpoint manifest) with its trained weights, in eval mode."""
    missing = [k for k in ("d_model", "n_layers", "n_heads", "seq_len") if k not in spec]
    if missing:
        raise CompressError(f"model_spec: LM spec lacks {', '.join(missing)}; got keys {sorted(spec)}")
    d, h = spec["d_model"], spec["n_heads"]
    shapes = [BlockShape(h, 4 * d)] * spec["n_layers"]
    model = ByteLM(d, d // h, shapes, spec["seq_len"], spec.get("vocab", 256))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CompressError(f"checkpoint: LM weights do not match model_spec {spec}: {exc}") from None
    return model.eval()


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # tied weights counted once


@torch.no_grad()
def importance(model: ByteLM, idx: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per block: (head scores, FFN neuron scores) on the calibration batch ``idx``."""
    model.eval()
    x = model.tok(idx) + model.pos(torch.arange(idx.shape[1]))
    scores = []
    for block in model._blocks():
        x, heads, ffn = block.forward_with_scores(x)
        scores.append((heads, ffn))
    return scores


def _keep(scores: torch.Tensor, ratio: float) -> torch.Tensor:
    n = max(1, round(len(scores) * ratio))
    return scores.topk(n).indices.sort().values


@torch.no_grad()
def prune(model: ByteLM, calibration: torch.Tensor, head_keep_ratio: float, ffn_keep_ratio: float) -> ByteLM:
    """A new, smaller dense LM keeping the most important heads and FFN neurons of every block."""
    problems = [
        f"{name}: {value} must be in (0, 1]"
        for name, value in (("lm_head_keep_ratio", head_keep_ratio), ("lm_ffn_keep_ratio", ffn_keep_ratio))
        if not 0 < value <= 1
    ]
    if problems:
        raise CompressError("; ".join(problems))
    scores = importance(model, calibration)
    keeps = [(_keep(h, head_keep_ratio), _keep(f, ffn_keep_ratio)) for h, f in scores]
    shapes = [BlockShape(len(kh), len(kf)) for kh, kf in keeps]
    new = ByteLM(model.d_model, model.head_dim, shapes, model.seq_len, model.vocab)
    for name in ("tok", "pos", "ln_f"):
        getattr(new, name).load_state_dict(getattr(model, name).state_dict())
    hd = model.head_dim
    for old, dst, (keep_heads, keep_ffn) in zip(model._blocks(), new._blocks(), keeps, strict=True):
        dst.ln1.load_state_dict(old.ln1.state_dict())
        dst.ln2.load_state_dict(old.ln2.state_dict())
        cols = (keep_heads[:, None] * hd + torch.arange(hd)[None, :]).flatten()  # kept heads' channels
        inner = old.n_heads * hd
        rows = torch.cat([cols + part * inner for part in range(3)])  # the same heads in q, k and v
        dst.qkv.weight.copy_(old.qkv.weight[rows])
        dst.qkv.bias.copy_(old.qkv.bias[rows])
        dst.proj.weight.copy_(old.proj.weight[:, cols])
        dst.proj.bias.copy_(old.proj.bias)
        dst.fc1.weight.copy_(old.fc1.weight[keep_ffn])
        dst.fc1.bias.copy_(old.fc1.bias[keep_ffn])
        dst.fc2.weight.copy_(old.fc2.weight[:, keep_ffn])
        dst.fc2.bias.copy_(old.fc2.bias)
    return new.eval()


def windows(corpus: np.ndarray, seq_len: int, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` random (input, next-byte target) windows of ``seq_len`` from ``corpus``."""
    if len(corpus) <= seq_len + 1:
        raise CompressError(f"LM corpus has {len(corpus)} bytes; need more than seq_len + 1 = {seq_len + 1}")
    offsets = np.random.default_rng(seed).integers(0, len(corpus) - seq_len - 1, size=count)
    chunk = torch.from_numpy(corpus[offsets[:, None] + np.arange(seq_len + 1)[None, :]].astype(np.int64))
    return chunk[:, :-1], chunk[:, 1:]


def eval_windows(corpus: np.ndarray, seq_len: int, max_windows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-overlapping windows from the start of a held-out corpus (deterministic, every byte once)."""
    n = min(max_windows, (len(corpus) - 1) // seq_len)
    if n < 1:
        raise CompressError(f"held-out LM corpus has {len(corpus)} bytes; need at least seq_len + 1 = {seq_len + 1}")
    idx = np.arange(n)[:, None] * seq_len + np.arange(seq_len + 1)[None, :]
    chunk = torch.from_numpy(corpus[idx].astype(np.int64))
    return chunk[:, :-1], chunk[:, 1:]


def token_loss(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Mean next-byte cross-entropy (nats)."""
    return float(functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1)))


def fit(
    model: ByteLM,
    corpus: np.ndarray,
    steps: int,
    lr: float,
    seed: int,
    batch_size: int = 16,
    teacher: nn.Module | None = None,
    temperature: float = 2.0,
    alpha: float = 0.5,
) -> ByteLM:
    """AdamW with cosine decay; with a teacher, loss = alpha * T^2 * KL(teacher || student) + (1 - alpha) * CE."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps), eta_min=lr * 0.1)
    if teacher is not None:
        teacher.eval()
    model.train()
    for step in range(steps):
        x, y = windows(corpus, model.seq_len, batch_size, seed * 1_000_003 + step)
        logits = model(x)
        loss = functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        if teacher is not None:
            with torch.no_grad():
                soft = functional.log_softmax(teacher(x) / temperature, dim=-1)
            kd = functional.kl_div(
                functional.log_softmax(logits / temperature, dim=-1).reshape(-1, logits.shape[-1]),
                soft.reshape(-1, logits.shape[-1]),
                log_target=True,
                reduction="batchmean",
            )
            loss = alpha * temperature**2 * kd + (1 - alpha) * loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    return model.eval()

"""Short CPU training loops used by the pipeline: fine-tune after pruning, distillation, scratch baseline."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional


def fit(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    steps: int,
    lr: float,
    seed: int,
    batch_size: int = 64,
    teacher: nn.Module | None = None,
    temperature: float = 4.0,
    alpha: float = 0.7,
) -> nn.Module:
    """Adam for ``steps`` steps; with a teacher, loss = alpha * T^2 * KL(soft) + (1 - alpha) * CE."""
    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    soft_targets = None
    if teacher is not None:
        with torch.no_grad():
            soft_targets = functional.log_softmax(teacher.eval()(xt) / temperature, dim=-1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(yt), (batch_size,), generator=gen)
        logits = model(xt[idx])
        loss = functional.cross_entropy(logits, yt[idx])
        if soft_targets is not None:
            kd = functional.kl_div(
                functional.log_softmax(logits / temperature, dim=-1),
                soft_targets[idx],
                log_target=True,
                reduction="batchmean",
            )
            loss = alpha * temperature**2 * kd + (1 - alpha) * loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    return float((model.eval()(torch.from_numpy(x)).argmax(-1).numpy() == y).mean())

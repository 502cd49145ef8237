"""Rebuilds the trainer's MLP classifier from a checkpoint and prunes it structurally.

The MLP layout (``net`` = Linear, ReLU[, Dropout], ..., Linear) and state-dict
keys match ``trainer.models.MLP``; the spec comes from the checkpoint manifest.
Pruning removes whole hidden neurons, i.e. rows of one Linear and the matching
columns of the next, so the dense weight matrices (and the file) really shrink.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

SUPPORTED_KINDS = ("mlp",)


class CompressError(RuntimeError):
    """The checkpoint or the pipeline config cannot be compressed as asked."""


def build_mlp(in_features: int, hidden: list[int], num_classes: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def from_checkpoint(spec: dict[str, Any], state: dict[str, torch.Tensor]) -> nn.Sequential:
    """The trained classifier as an inference ``nn.Sequential`` (dropout dropped: identity at eval)."""
    if spec.get("kind") not in SUPPORTED_KINDS:
        raise CompressError(
            f"model_spec.kind: {spec.get('kind')!r} is not supported by the compressor (supported: "
            f"{', '.join(SUPPORTED_KINDS)}). To fix: train with MODEL=classifier and --arch mlp."
        )
    model = build_mlp(spec["in_features"], list(spec["hidden"]), spec["num_classes"])
    linear_keys = sorted(
        {k.rsplit(".", 1)[0] for k in state if k.startswith("net.")}, key=lambda k: int(k.split(".")[1])
    )
    linears = [m for m in model if isinstance(m, nn.Linear)]
    if len(linear_keys) != len(linears):
        raise CompressError(f"checkpoint has {len(linear_keys)} linear layers, spec implies {len(linears)}")
    with torch.no_grad():
        for key, layer in zip(linear_keys, linears, strict=True):
            layer.weight.copy_(state[f"{key}.weight"])
            layer.bias.copy_(state[f"{key}.bias"])
    return model.eval()


def hidden_sizes(model: nn.Sequential) -> list[int]:
    return [m.out_features for m in model if isinstance(m, nn.Linear)][:-1]


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def prune_neurons(model: nn.Sequential, keep_ratio: float) -> nn.Sequential:
    """Keep the ``keep_ratio`` most important neurons of every hidden layer.

    A neuron's importance is ||incoming weights|| * ||outgoing weights||: a unit
    that either barely reacts to its input or barely feeds the next layer
    contributes little, and removing it removes a row and a column.
    """
    if not 0 < keep_ratio <= 1:
        raise CompressError(f"prune.keep_ratio: {keep_ratio} must be in (0, 1]")
    linears = [m for m in model if isinstance(m, nn.Linear)]
    new = build_mlp(
        linears[0].in_features, [max(1, round(h * keep_ratio)) for h in hidden_sizes(model)], linears[-1].out_features
    )
    new_linears = [m for m in new if isinstance(m, nn.Linear)]
    keep_in = torch.arange(linears[0].in_features)
    with torch.no_grad():
        for i, (old, dst) in enumerate(zip(linears, new_linears, strict=True)):
            w = old.weight[:, keep_in]
            if i < len(linears) - 1:
                score = w.norm(dim=1) * linears[i + 1].weight.norm(dim=0)
                keep_out = score.topk(dst.out_features).indices.sort().values
            else:
                keep_out = torch.arange(old.out_features)
            dst.weight.copy_(w[keep_out])
            dst.bias.copy_(old.bias[keep_out])
            keep_in = keep_out
    return new.eval()

"""Rebuilds the trainer's MLP or CNN classifier from a checkpoint and prunes it structurally.

The MLP layout (``net`` = Linear, ReLU[, Dropout], ..., Linear) and state-dict
keys match ``trainer.models.MLP``; the CNN's match ``trainer.models.CNN``
(``features`` = Conv2d, BatchNorm2d, ReLU per block; ``head``). The spec comes
from the checkpoint manifest. Pruning removes whole hidden neurons (rows of one
Linear and the matching columns of the next) or whole conv channels (filters of
one conv and the matching input channels of the next conv or the head), so the
dense weights (and the file) really shrink.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

SUPPORTED_KINDS = ("mlp", "cnn")


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


class ConvNet(nn.Module):
    """Inference form of the trainer's CNN: BatchNorm folded into each conv, flat [N, C*H*W] input like the MLP."""

    def __init__(self, in_shape: tuple[int, int, int], channels: list[int], num_classes: int):
        super().__init__()
        self.in_shape = in_shape
        layers: list[nn.Module] = []
        width = in_shape[0]
        for c in channels:
            layers += [nn.Conv2d(width, c, 3, padding=1), nn.ReLU()]
            width = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.reshape(-1, *self.in_shape)).mean(dim=(2, 3)))

    def convs(self) -> list[nn.Conv2d]:
        return [m for m in self.features if isinstance(m, nn.Conv2d)]


Classifier = nn.Sequential | ConvNet


def _cnn_from_checkpoint(spec: dict[str, Any], state: dict[str, torch.Tensor]) -> ConvNet:
    model = ConvNet((spec["in_channels"], spec["height"], spec["width"]), list(spec["channels"]), spec["num_classes"])
    with torch.no_grad():
        for i, conv in enumerate(model.convs()):
            c, bn = f"features.{3 * i}", f"features.{3 * i + 1}"
            # Eval-mode BatchNorm is a per-channel affine map: fold it into the conv.
            scale = state[f"{bn}.weight"] / torch.sqrt(state[f"{bn}.running_var"] + 1e-5)
            conv.weight.copy_(state[f"{c}.weight"] * scale[:, None, None, None])
            assert conv.bias is not None  # built with bias=True
            conv.bias.copy_((state[f"{c}.bias"] - state[f"{bn}.running_mean"]) * scale + state[f"{bn}.bias"])
        model.head.weight.copy_(state["head.weight"])
        model.head.bias.copy_(state["head.bias"])
    return model.eval()


def from_checkpoint(spec: dict[str, Any], state: dict[str, torch.Tensor]) -> Classifier:
    """The trained classifier in inference form (dropout dropped, BatchNorm folded)."""
    if spec.get("kind") not in SUPPORTED_KINDS:
        raise CompressError(
            f"model_spec.kind: {spec.get('kind')!r} is not supported by the classifier compressor (supported: "
            f"{', '.join(SUPPORTED_KINDS)}; 'lm' runs the LM pipeline). To fix: train with the trainer's "
            "--model classifier --arch mlp|cnn, or --model lm."
        )
    if spec["kind"] == "cnn":
        try:
            return _cnn_from_checkpoint(spec, state)
        except (KeyError, RuntimeError) as exc:
            raise CompressError(f"checkpoint: CNN weights do not match model_spec {spec}: {exc}") from None
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


def hidden_sizes(model: Classifier) -> list[int]:
    """Hidden neurons per layer (MLP) or channels per conv (CNN)."""
    if isinstance(model, ConvNet):
        return [c.out_channels for c in model.convs()]
    return [m.out_features for m in model if isinstance(m, nn.Linear)][:-1]


def build_like(teacher: Classifier, widths: list[int]) -> Classifier:
    """A fresh classifier of the teacher's family and input/output shape with other widths (a student)."""
    if isinstance(teacher, ConvNet):
        return ConvNet(teacher.in_shape, widths, teacher.head.out_features)
    linears = [m for m in teacher if isinstance(m, nn.Linear)]
    return build_mlp(linears[0].in_features, widths, linears[-1].out_features)


def prune(model: Classifier, keep_ratio: float) -> Classifier:
    if isinstance(model, ConvNet):
        return prune_channels(model, keep_ratio)
    return prune_neurons(model, keep_ratio)


def prune_channels(model: ConvNet, keep_ratio: float) -> ConvNet:
    """Keep the ``keep_ratio`` most important output channels of every conv.

    A channel's importance is ||its filter|| * ||the weights that read it||
    (the next conv's input slice, or the head's column after pooling).
    """
    if not 0 < keep_ratio <= 1:
        raise CompressError(f"prune.keep_ratio: {keep_ratio} must be in (0, 1]")
    convs = model.convs()
    new = ConvNet(model.in_shape, [max(1, round(c.out_channels * keep_ratio)) for c in convs], model.head.out_features)
    keep_in = torch.arange(model.in_shape[0])
    with torch.no_grad():
        for i, (old, dst) in enumerate(zip(convs, new.convs(), strict=True)):
            w = old.weight[:, keep_in]
            reader = convs[i + 1].weight.transpose(0, 1) if i + 1 < len(convs) else model.head.weight.t()
            score = w.flatten(1).norm(dim=1) * reader.flatten(1).norm(dim=1)
            keep_out = score.topk(dst.out_channels).indices.sort().values
            dst.weight.copy_(w[keep_out])
            assert dst.bias is not None and old.bias is not None  # built with bias=True
            dst.bias.copy_(old.bias[keep_out])
            keep_in = keep_out
        new.head.weight.copy_(model.head.weight[:, keep_in])
        new.head.bias.copy_(model.head.bias)
    return new.eval()


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

"""Quantized Linear layers on PyTorch's own kernels, loaded from a compressed-tensors checkpoint.

transformers reloads compressed-tensors checkpoints by decompressing them, so its decode speed
is the source's. vLLM runs them on FP8 and INT4 kernels; these modules do the same with the
kernels PyTorch ships, so the GPU check can measure what the formats buy at decode time
without vLLM on the machine:

- ``Fp8Linear``: W8A8-FP8 as ``FP8_DYNAMIC`` stores it: float8_e4m3 weights with a scale per
  output channel, activations quantized per token at run time; ``torch._scaled_mm`` with
  row-wise scales (on CUDA, FP8 tensor cores: Hopper and newer).
- ``Int4Linear``: W4A16 as ``pack-quantized`` stores it (symmetric int4 in groups of 128);
  repacked for ``torch._weight_int4pack_mm`` (the tinygemm kernel torchao uses), bf16 activations.

``swap_in_kernels`` replaces a model's Linear layers with these, reading the quantized tensors
from the checkpoint's safetensors, and checks every swapped layer against the checkpoint's
dequantized weight.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

FP8_MAX = 448.0  # largest finite float8_e4m3fn
INNER_K_TILES = 8  # tinygemm's inner tiling; needs in_features % (INNER_K_TILES * 16) == 0


class Fp8Linear(nn.Module):
    def __init__(self, weight: torch.Tensor, weight_scale: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        if weight.dtype != torch.float8_e4m3fn:
            raise ValueError(f"Fp8Linear: weight is {weight.dtype}, expected float8_e4m3fn")
        self.out_features, self.in_features = weight.shape
        self.weight_t = nn.Parameter(weight.t(), requires_grad=False)  # column-major, as _scaled_mm wants it
        self.scale_b = nn.Parameter(weight_scale.reshape(1, -1).float(), requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)

    def dequantized(self) -> torch.Tensor:
        return (self.weight_t.t().float() * self.scale_b.t()).to(torch.bfloat16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        rows = x2.shape[0]
        pad = (-rows) % 16  # the FP8 GEMM wants every dimension a multiple of 16
        if pad:
            x2 = nn.functional.pad(x2, (0, 0, 0, pad))
        scale_a = (x2.abs().amax(dim=1, keepdim=True).float() / FP8_MAX).clamp(min=1e-12)
        xq = (x2.float() / scale_a).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
        out = torch._scaled_mm(xq, self.weight_t, scale_a=scale_a, scale_b=self.scale_b, out_dtype=torch.bfloat16)
        out = out[:rows]
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*shape[:-1], self.out_features).to(x.dtype)


class Int4Linear(nn.Module):
    def __init__(self, values: torch.Tensor, weight_scale: torch.Tensor, bias: torch.Tensor | None = None):
        """``values``: the int4 weight as int8 in [-8, 7], [out, in]; ``weight_scale``: [out, in / group]."""
        super().__init__()
        self.out_features, self.in_features = values.shape
        groups = weight_scale.shape[1]
        self.group_size = self.in_features // groups
        if self.in_features % (INNER_K_TILES * 16) or self.group_size not in (32, 64, 128, 256):
            raise ValueError(f"Int4Linear: in_features {self.in_features}, group {self.group_size} not supported")
        q = (values.to(torch.int32) + 8).contiguous()  # tinygemm's unsigned domain: w = (q - 8) * scale + zero
        if values.is_cuda:
            packed = torch.ops.aten._convert_weight_to_int4pack(
                (q[:, ::2] << 4 | q[:, 1::2]).to(torch.uint8), INNER_K_TILES
            )
        else:
            packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, INNER_K_TILES)
        scales = weight_scale.to(torch.bfloat16)
        zeros = torch.zeros_like(scales)
        # [groups, out, 2] (scale, zero) as the kernel reads them.
        self.scales_and_zeros = nn.Parameter(
            torch.stack([scales, zeros], dim=2).transpose(0, 1).contiguous(), requires_grad=False
        )
        self.packed = nn.Parameter(packed, requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x2 = x.reshape(-1, shape[-1]).to(torch.bfloat16)
        if x2.is_cuda:
            out = torch.ops.aten._weight_int4pack_mm(x2, self.packed, self.group_size, self.scales_and_zeros)
        else:
            out = torch.ops.aten._weight_int4pack_mm_for_cpu(x2, self.packed, self.group_size, self.scales_and_zeros)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*shape[:-1], self.out_features).to(x.dtype)


def _tensors(checkpoint: Path, device: torch.device) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    out: dict[str, torch.Tensor] = {}
    for f in sorted(checkpoint.glob("*.safetensors")):
        with safe_open(str(f), "pt", device=str(device)) as st:
            for key in st.keys():
                out[key] = st.get_tensor(key)
    return out


def swap_in_kernels(model: nn.Module, checkpoint: Path, scheme: str) -> dict[str, float]:
    """Replace every Linear the checkpoint quantized; returns each layer's max relative error vs its dequantized
    weight on a random input (a wrong layout shows here as an error near 1, not as a quiet slowdown)."""
    from compressed_tensors.compressors.pack_quantized.helpers import unpack_from_int32

    device = next(model.parameters()).device
    tensors = _tensors(checkpoint, device)
    errors: dict[str, float] = {}
    for name, module in list(model.named_modules()):
        if not isinstance(module, nn.Linear) or f"{name}.weight_scale" not in tensors:
            continue
        scale = tensors[f"{name}.weight_scale"]
        bias = None if module.bias is None else module.bias.detach()
        new: nn.Module
        if scheme == "fp8":
            new = Fp8Linear(tensors[f"{name}.weight"], scale, bias)
            reference = new.dequantized()
        else:
            shape = torch.Size(tensors[f"{name}.weight_shape"].tolist())
            values = unpack_from_int32(tensors[f"{name}.weight_packed"], 4, shape)
            new = Int4Linear(values, scale, bias)
            group = shape[1] // scale.shape[1]
            reference = (values.float() * scale.float().repeat_interleave(group, dim=1)).to(torch.bfloat16)
        x = torch.randn(4, module.in_features, device=device, dtype=torch.bfloat16)
        with torch.no_grad():
            want = nn.functional.linear(x, reference).float()
            got = new(x).float()
        errors[name] = float((got - want).abs().max() / want.abs().max().clamp(min=1e-6))
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, child, new)
    return errors

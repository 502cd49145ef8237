"""Reference models the benches and tests share: the teacher the compression result is measured
against, and the LM-shaped graph the server's caps are tested with.

A 64-512-512-10 MLP trained by the trainer on scikit-learn's digits for 2000 steps of
batch 64; the compressed artifact must be >= 10x smaller, within 1 point of its accuracy,
and faster on the CPU at batch 1 and 64.
"""

from __future__ import annotations

import warnings
from pathlib import Path

TEACHER_FLAGS: tuple[str, ...] = (
    "--hidden", "512,512",
    "--max-steps", "2000",
    "--checkpoint-every", "1000",
    "--log-every", "1000",
    "--weight-decay", "0.01",
    "--lr-schedule", "cosine",
    "--heartbeat-file", "",
)


def export_lm_shaped(path: Path) -> Path:
    """Security finding 5's model as ONNX: INT64 [B, T] -> FP32 [B, T, 256], batch and sequence dynamic."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Embedding(256, 64), torch.nn.Linear(64, 256)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (torch.zeros(1, 8, dtype=torch.int64),),
            str(path),
            dynamo=False,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}},
        )
    return path

"""ONNX export, int8 quantization and single-threaded ONNX Runtime measurement."""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

INPUT_NAME = "input"
OUTPUT_NAME = "logits"


def export(model: nn.Module, in_features: int, path: Path) -> Path:
    """fp32 ONNX with a dynamic batch dimension."""
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of dynamo, which
        # needs onnxscript; for a plain MLP both give the same graph.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model.eval(),
            (torch.zeros(1, in_features),),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        )
    return path


def export_lm(model: nn.Module, seq_len: int, path: Path, dynamic_seq: bool = True) -> Path:
    """fp32 ONNX of a byte LM: int64 ``input`` [batch, seq] -> ``logits`` [batch, seq, vocab].

    With ``dynamic_seq`` any length up to the model's ``seq_len`` (its position
    table) runs; without, the graph only takes exactly ``seq_len`` bytes.
    """
    axes = {0: "batch", 1: "seq"} if dynamic_seq else {0: "batch"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation of the TorchScript exporter, tracer notes on shape math
        torch.onnx.export(
            model.eval(),
            (torch.zeros(1, seq_len, dtype=torch.int64),),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes},
        )
    return path


def quantize_dynamic_int8(fp32_path: Path, out_path: Path) -> Path:
    """Dynamic int8: weights of MatMul/Gemm (and the embedding Gather) stored as int8, activations
    quantized per call. Unlike the classifier's static scheme it needs no calibration, which suits an
    LM whose activation ranges depend on the text.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer warns about optional pre-processing on every call
    try:
        quantize_dynamic(str(fp32_path), str(out_path), weight_type=QuantType.QInt8, per_channel=False)
    finally:
        root.setLevel(level)
    return out_path


class _Calibration:
    """Feeds calibration batches to onnxruntime's static quantizer."""

    def __init__(self, x: np.ndarray, batch: int = 64):
        self._batches = iter([{INPUT_NAME: x[i : i + batch]} for i in range(0, len(x), batch)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def quantize_int8(fp32_path: Path, out_path: Path, calibration_x: np.ndarray) -> Path:
    """Static int8 (QOperator: QGemm/QLinearMatMul), weights per channel, activations calibrated.

    Static beats dynamic quantization here: dynamic re-quantizes activations
    on every call, which costs more than it saves on small layers.
    """
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(_Calibration, CalibrationDataReader):
        pass

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer warns about optional pre-processing on every call
    try:
        quantize_static(
            str(fp32_path),
            str(out_path),
            Reader(calibration_x),
            quant_format=QuantFormat.QOperator,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
    finally:
        root.setLevel(level)
    return out_path


def session(path: Path | bytes, threads: int = 1) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    model = str(path) if isinstance(path, Path) else path
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class Timing:
    latency_b1_ms: float
    latency_b64_ms: float
    throughput_b64: float  # samples per second at batch 64


def median_latency_s(
    sess: ort.InferenceSession, x: np.ndarray, min_runs: int = 200, min_time_s: float = 0.3, warmup: int = 20
) -> float:
    feed = {INPUT_NAME: x}
    for _ in range(warmup):
        sess.run(None, feed)
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < min_runs or time.perf_counter() - start < min_time_s:
        t0 = time.perf_counter()
        sess.run(None, feed)
        samples.append(time.perf_counter() - t0)
    return float(np.median(samples))


def time_model(sess: ort.InferenceSession, x: np.ndarray) -> Timing:
    b1 = median_latency_s(sess, x[:1])
    b64 = median_latency_s(sess, np.resize(x, (64, x.shape[1])).astype(np.float32))
    return Timing(b1 * 1e3, b64 * 1e3, 64 / b64)


def onnx_accuracy(sess: ort.InferenceSession, x: np.ndarray, y: np.ndarray) -> float:
    logits = sess.run(None, {INPUT_NAME: x})[0]
    return float((logits.argmax(-1) == y).mean())

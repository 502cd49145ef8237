"""Loads the ONNX model (local path or bucket) into ONNX Runtime and describes its tensors in v2 terms."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort
from blobstore import storage

CALIBRATION_ROWS = 64  # dynamic elements of the larger calibration call; larger requests are never predicted

# ONNX Runtime's type strings -> Open Inference Protocol datatypes.
ORT_TO_V2 = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(float16)": "FP16",
    "tensor(int64)": "INT64",
    "tensor(int32)": "INT32",
    "tensor(int16)": "INT16",
    "tensor(int8)": "INT8",
    "tensor(uint64)": "UINT64",
    "tensor(uint32)": "UINT32",
    "tensor(uint16)": "UINT16",
    "tensor(uint8)": "UINT8",
    "tensor(bool)": "BOOL",
}
V2_TO_NUMPY = {
    "FP32": np.float32,
    "FP64": np.float64,
    "FP16": np.float16,
    "INT64": np.int64,
    "INT32": np.int32,
    "INT16": np.int16,
    "INT8": np.int8,
    "UINT64": np.uint64,
    "UINT32": np.uint32,
    "UINT16": np.uint16,
    "UINT8": np.uint8,
    "BOOL": np.bool_,
}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]  # -1 marks a dynamic dimension
    symbols: tuple[str | None, ...] = ()  # the graph's name for each dynamic dimension ("batch", "seq"), if any

    def as_v2(self) -> dict[str, object]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


def _spec(arg: ort.NodeArg) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in arg.shape)
    symbols = tuple(d if isinstance(d, str) and d else None for d in arg.shape)
    return TensorSpec(arg.name, ORT_TO_V2.get(arg.type, arg.type), shape, symbols)


class Model:
    """An ONNX Runtime session plus its v2 metadata."""

    def __init__(self, name: str, onnx_bytes: bytes, intra_op_threads: int = 1):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = intra_op_threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Worker threads spin after a run by default; on a shared CPU that spinning steals the cores the
        # event loop needs, so threads sleep as soon as a run ends.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # A bad input (an out-of-range token id) is answered with a 400 naming ORT's message; ORT's own
        # per-run error log would let each such request write a log line.
        opts.log_severity_level = 4
        self.name = name
        self.version = "1"
        self.session = ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])
        self.inputs = [_spec(a) for a in self.session.get_inputs()]
        self.outputs = [_spec(a) for a in self.session.get_outputs()]
        self.inputs_by_name = {t.name: t for t in self.inputs}  # looked up per request: built once
        self.outputs_by_name = {t.name: t for t in self.outputs}
        self.output_names = tuple(t.name for t in self.outputs)
        # protocol.predict_response_bytes: (outputs, binary outputs, input shapes) -> predicted bytes or None.
        self.response_bounds: dict[tuple[Any, ...], int | None] = {}
        # Requests can be merged only when the sole input has a dynamic batch dimension.
        self.batchable = len(self.inputs) == 1 and bool(self.inputs[0].shape) and self.inputs[0].shape[0] == -1
        self.cost: tuple[float, float] | None = None  # (seconds at 1 dynamic element, seconds per extra one)

    def metadata(self) -> dict[str, object]:
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": "onnxruntime_onnx",
            "inputs": [t.as_v2() for t in self.inputs],
            "outputs": [t.as_v2() for t in self.outputs],
        }

    def run(self, feeds: dict[str, np.ndarray], output_names: list[str]) -> list[np.ndarray]:
        return list(self.session.run(output_names, feeds))

    def calibrate(self, rows: int = CALIBRATION_ROWS, repeats: int = 20) -> None:
        """Warm the session up and time it on zeros at 1 and ``rows`` dynamic elements.

        The result is a linear cost model (``predict_run_s``) the server uses to run cheap calls on
        the event loop instead of paying a thread hand-off that costs more than the call itself.
        A model that refuses zeros (or has no dynamic axis) keeps ``cost = None``: every call then
        goes to the executor, as before.
        """
        try:
            times = []
            for n in (1, rows):
                feeds = {t.name: _zeros(t, n) for t in self.inputs}
                self.run(feeds, [t.name for t in self.outputs])  # warm-up: first runs allocate
                best = math.inf
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    self.run(feeds, [t.name for t in self.outputs])
                    best = min(best, time.perf_counter() - t0)
                times.append(best)
        except Exception:  # any refusal just disables the inline path
            self.cost = None
            return
        self.cost = (times[0], max(0.0, (times[1] - times[0]) / (rows - 1)))

    def predict_run_s(self, dynamic_elements: int) -> float | None:
        """Predicted seconds for one call with this many dynamic elements (None when unknown or untested)."""
        if self.cost is None or dynamic_elements > CALIBRATION_ROWS:
            return None
        base, per_element = self.cost
        return base + per_element * (dynamic_elements - 1)


def _zeros(spec: TensorSpec, dynamic: int) -> np.ndarray:
    """Zeros of ``spec``'s type: the first dynamic axis gets ``dynamic``, the others 1."""
    shape, first = [], True
    for d in spec.shape:
        if d >= 0:
            shape.append(d)
        else:
            shape.append(dynamic if first else 1)
            first = False
    return np.zeros(shape, dtype=V2_TO_NUMPY.get(spec.datatype, np.float32))


def load(uri: str, name: str, intra_op_threads: int = 1) -> Model:
    """Read the model from a local path, s3:// or gs:// URI, warm it up and time it."""
    model = Model(name, storage.read_bytes(storage.parse_uri(uri)), intra_op_threads)
    model.calibrate()
    return model

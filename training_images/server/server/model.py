"""Loads the ONNX model (local path or bucket) into ONNX Runtime and describes its tensors in v2 terms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from server import storage

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

    def as_v2(self) -> dict[str, object]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


def _spec(arg: ort.NodeArg) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in arg.shape)
    return TensorSpec(arg.name, ORT_TO_V2.get(arg.type, arg.type), shape)


class Model:
    """An ONNX Runtime session plus its v2 metadata."""

    def __init__(self, name: str, onnx_bytes: bytes, intra_op_threads: int = 1):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = intra_op_threads
        opts.inter_op_num_threads = 1
        self.name = name
        self.version = "1"
        self.session = ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])
        self.inputs = [_spec(a) for a in self.session.get_inputs()]
        self.outputs = [_spec(a) for a in self.session.get_outputs()]
        # Requests can be merged only when the sole input has a dynamic batch dimension.
        self.batchable = len(self.inputs) == 1 and bool(self.inputs[0].shape) and self.inputs[0].shape[0] == -1

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


def load(uri: str, name: str, intra_op_threads: int = 1) -> Model:
    """Read the model from a local path, s3:// or gs:// URI."""
    return Model(name, storage.read_bytes(storage.parse_uri(uri)), intra_op_threads)

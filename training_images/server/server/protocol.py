"""Open Inference Protocol (KServe v2) request parsing/validation and response encoding.

Supports JSON tensors and Triton's binary tensor extension
(``Inference-Header-Content-Length``), which ``tritonclient.http`` uses by default.
Every malformed request raises ``ProtocolError`` with a 4xx status and a
message naming the offending field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from server.model import V2_TO_NUMPY, Model

HEADER_LENGTH = "Inference-Header-Content-Length"


class ProtocolError(Exception):
    """A client error; rendered as ``{"error": message}`` with ``status``."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class InferRequest:
    id: str | None
    inputs: dict[str, np.ndarray]
    outputs: list[str]  # names to return, in order
    binary_outputs: set[str] = field(default_factory=set)


def _check_shape(name: str, shape: Any, expected: tuple[int, ...]) -> tuple[int, ...]:
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise ProtocolError(f"input '{name}': shape must be a list of non-negative integers, got {shape!r}")
    if len(shape) != len(expected) or any(e != -1 and e != d for d, e in zip(shape, expected, strict=True)):
        raise ProtocolError(
            f"input '{name}': shape {shape} does not match model shape {list(expected)} (-1 = any size)"
        )
    return tuple(shape)


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def parse_infer(body: bytes, header_length: str | None, model: Model, max_batch: int) -> InferRequest:
    """Validate ``body`` against ``model``'s signature; raises ProtocolError on any client mistake."""
    if header_length is not None:
        try:
            json_len = int(header_length)
        except ValueError:
            raise ProtocolError(f"{HEADER_LENGTH}: {header_length!r} is not an integer") from None
        if not 0 < json_len <= len(body):
            raise ProtocolError(f"{HEADER_LENGTH}: {json_len} is outside the body length {len(body)}")
        header, binary = body[:json_len], body[json_len:]
    else:
        header, binary = body, b""
    try:
        req = json.loads(header)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"malformed JSON: {exc}") from None
    if not isinstance(req, dict):
        raise ProtocolError("request body must be a JSON object with an 'inputs' list")
    raw_inputs = req.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise ProtocolError("'inputs' must be a non-empty list of tensors")
    expected = {t.name: t for t in model.inputs}
    inputs: dict[str, np.ndarray] = {}
    offset = 0
    for i, tensor in enumerate(raw_inputs):
        if not isinstance(tensor, dict):
            raise ProtocolError(f"inputs[{i}] must be an object with name, shape, datatype and data")
        name = tensor.get("name")
        if name not in expected:
            raise ProtocolError(f"inputs[{i}].name: {name!r} is not a model input; expected {sorted(expected)}")
        if name in inputs:
            raise ProtocolError(f"input '{name}' is given more than once")
        spec = expected[name]
        datatype = tensor.get("datatype")
        if datatype != spec.datatype:
            raise ProtocolError(
                f"input '{name}': datatype {datatype!r} does not match model datatype '{spec.datatype}'"
            )
        shape = _check_shape(name, tensor.get("shape"), spec.shape)
        if shape and shape[0] > max_batch:
            raise ProtocolError(f"input '{name}': batch size {shape[0]} exceeds the limit {max_batch}", 413)
        count = math.prod(shape)
        dtype = V2_TO_NUMPY[datatype]
        params = tensor.get("parameters") or {}
        if not isinstance(params, dict):
            raise ProtocolError(f"input '{name}': parameters must be an object")
        if "binary_data_size" in params:
            size = params["binary_data_size"]
            if not isinstance(size, int) or size < 0 or offset + size > len(binary):
                raise ProtocolError(f"input '{name}': binary_data_size {size!r} exceeds the binary payload")
            if size != count * np.dtype(dtype).itemsize:
                raise ProtocolError(
                    f"input '{name}': binary_data_size {size} does not equal "
                    f"{count} elements x {np.dtype(dtype).itemsize} bytes"
                )
            array: np.ndarray = np.frombuffer(binary, dtype=dtype, count=count, offset=offset).reshape(shape)
            offset += size
        else:
            if "data" not in tensor:
                raise ProtocolError(f"input '{name}': missing 'data'")
            flat = _flatten(tensor["data"])
            if len(flat) != count:
                raise ProtocolError(f"input '{name}': shape {list(shape)} needs {count} elements, got {len(flat)}")
            if datatype != "BOOL" and any(isinstance(v, (str, bool)) or v is None for v in flat):
                raise ProtocolError(f"input '{name}': data must be numbers for datatype {datatype}")
            try:
                array = np.asarray(flat, dtype=dtype).reshape(shape)
            except (ValueError, TypeError, OverflowError) as exc:
                raise ProtocolError(f"input '{name}': data is not valid {datatype}: {exc}") from None
        inputs[name] = array
    missing = sorted(set(expected) - set(inputs))
    if missing:
        raise ProtocolError(f"missing model inputs: {missing}")
    if offset != len(binary):
        raise ProtocolError(f"binary payload has {len(binary) - offset} unused bytes")

    known = [t.name for t in model.outputs]
    wanted = req.get("outputs")
    binary_default = bool((req.get("parameters") or {}).get("binary_data_output", False))
    if wanted is None:
        return InferRequest(req.get("id"), inputs, known, set(known) if binary_default else set())
    if not isinstance(wanted, list) or not all(isinstance(o, dict) for o in wanted):
        raise ProtocolError("'outputs' must be a list of objects with a 'name'")
    names, binary_outputs = [], set()
    for o in wanted:
        if o.get("name") not in known:
            raise ProtocolError(f"outputs: {o.get('name')!r} is not a model output; expected {known}")
        names.append(o["name"])
        if (o.get("parameters") or {}).get("binary_data", binary_default):
            binary_outputs.add(o["name"])
    return InferRequest(req.get("id"), inputs, names, binary_outputs)


def _v2_datatype(array: np.ndarray) -> str:
    for name, dtype in V2_TO_NUMPY.items():
        if array.dtype == dtype:
            return name
    return "BYTES"


def encode_response(model: Model, req: InferRequest, arrays: list[np.ndarray]) -> tuple[bytes, dict[str, str]]:
    """JSON body, or JSON header + binary tensors when any output asked for binary data."""
    outputs, blobs = [], []
    for name, array in zip(req.outputs, arrays, strict=True):
        out: dict[str, Any] = {"name": name, "datatype": _v2_datatype(array), "shape": list(array.shape)}
        if name in req.binary_outputs:
            blob = np.ascontiguousarray(array).tobytes()
            out["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            out["data"] = array.reshape(-1).tolist()
        outputs.append(out)
    body: dict[str, Any] = {"model_name": model.name, "model_version": model.version, "outputs": outputs}
    if req.id is not None:
        body["id"] = req.id
    header = json.dumps(body).encode()
    if not blobs:
        return header, {"Content-Type": "application/json"}
    return header + b"".join(blobs), {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(header))}

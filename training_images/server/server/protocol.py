"""Open Inference Protocol (KServe v2) request parsing/validation and response encoding.

Supports JSON tensors and Triton's binary tensor extension
(``Inference-Header-Content-Length``), which ``tritonclient.http`` uses by default.
Every malformed request raises ``ProtocolError`` with a 4xx status and a
message naming the offending field. Sizes are bounded before any work is
done: the batch, every other dynamic axis, their product per input, and the
response the model would produce (``Limits``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from server.model import V2_TO_NUMPY, Model, TensorSpec

HEADER_LENGTH = "Inference-Header-Content-Length"
FLOAT_TYPES = frozenset({"FP16", "FP32", "FP64"})
# Longest JSON text per element, separator included, as orjson writes it (float32 shortest repr
# "-1.17549435e-38", float64 17 significant digits, int64 "-9223372036854775808", "false"). The JSON
# response cap uses these worst cases so it can refuse a request before the model runs.
JSON_BYTES_PER_ELEMENT = {"FP16": 16, "FP32": 16, "FP64": 25, "BOOL": 6}
JSON_BYTES_INT = 21
RESPONSE_BOUND_CACHE = 1024  # entries of Model.response_bounds before it starts over


class ProtocolError(Exception):
    """A client error; rendered as ``{"error": message}`` with ``status``."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; each limit is a Settings field (env var in brackets)."""

    max_batch: int = 1024  # MAX_REQUEST_BATCH: first (batch) axis when it is dynamic
    max_dynamic_dim: int = 4096  # MAX_DYNAMIC_DIM: any other dynamic axis (sequence length, ...)
    max_dynamic_elements: int = 65536  # MAX_DYNAMIC_ELEMENTS: product of an input's dynamic axes
    max_response_bytes: int = 32 * 1024 * 1024  # MAX_RESPONSE_BYTES: body of one response


@dataclass
class InferRequest:
    id: str | None
    inputs: dict[str, np.ndarray]
    outputs: list[str]  # names to return, in order
    binary_outputs: set[str] = field(default_factory=set)
    dynamic_elements: int = 1  # largest product of dynamic axes over the inputs (the cost driver)


def _check_shape(name: str, shape: Any, spec: TensorSpec, limits: Limits) -> tuple[tuple[int, ...], int]:
    """The shape as a tuple and the product of its dynamic axes; 413 past any limit."""
    # type() is int: exactly an integer (a JSON true/false is a bool, which isinstance would let through).
    if type(shape) is not list or not all(type(d) is int and d >= 0 for d in shape):
        raise ProtocolError(f"input '{name}': shape must be a list of non-negative integers, got {shape!r}")
    expected = spec.shape
    if len(shape) != len(expected):
        raise ProtocolError(
            f"input '{name}': shape {shape} does not match model shape {list(expected)} (-1 = any size)"
        )
    dynamic = 1
    for axis, (d, e) in enumerate(zip(shape, expected)):  # noqa: B905 (lengths checked just above)
        if e != -1:
            if e != d:
                raise ProtocolError(
                    f"input '{name}': shape {shape} does not match model shape {list(expected)} (-1 = any size)"
                )
            continue
        if axis == 0 and d > limits.max_batch:
            raise ProtocolError(f"input '{name}': batch size {d} exceeds the limit {limits.max_batch}", 413)
        if axis > 0 and d > limits.max_dynamic_dim:
            raise ProtocolError(
                f"input '{name}': axis {axis} has size {d}, above the limit {limits.max_dynamic_dim} "
                "for a dynamic axis (MAX_DYNAMIC_DIM)",
                413,
            )
        dynamic *= d
    if dynamic > limits.max_dynamic_elements:
        raise ProtocolError(
            f"input '{name}': shape {shape} spans {dynamic} elements over its dynamic axes, above the limit "
            f"{limits.max_dynamic_elements} (MAX_DYNAMIC_ELEMENTS); send fewer rows or shorter sequences",
            413,
        )
    return tuple(shape), dynamic


def _flatten(name: str, data: Any, shape: tuple[int, ...]) -> list[Any]:
    """``data`` as a flat list: either already flat, or nested exactly as ``shape`` (no ragged rows)."""
    if not isinstance(data, list):
        raise ProtocolError(f"input '{name}': 'data' must be a list")
    if not data or not isinstance(data[0], list):  # flat: the common (and fast) case; _array_from_json
        return data  # refuses a list inside it ("mixes lists and numbers") in its one pass over the types
    flat: list[Any] = []
    stack: list[tuple[list[Any], int]] = [(data, 0)]  # iterative: deep nesting cannot exhaust the stack
    while stack:
        level, depth = stack.pop()
        if depth >= len(shape) or len(level) != shape[depth]:
            raise ProtocolError(
                f"input '{name}': nested data does not match shape {list(shape)} "
                f"(a list of {len(level)} at depth {depth}); send it flat or nested exactly as the shape"
            )
        if depth == len(shape) - 1:
            if list in set(map(type, level)):
                raise ProtocolError(f"input '{name}': nested data is deeper than shape {list(shape)}")
            flat.extend(level)
            continue
        for sub in reversed(level):
            if not isinstance(sub, list):
                raise ProtocolError(f"input '{name}': nested data does not match shape {list(shape)}")
            stack.append((sub, depth + 1))
    return flat


def _array_from_json(name: str, datatype: str, flat: list[Any], shape: tuple[int, ...]) -> np.ndarray:
    dtype = V2_TO_NUMPY[datatype]
    types = set(map(type, flat))  # one C-level pass; bool is not int here (type(True) is bool)
    if list in types:
        raise ProtocolError(f"input '{name}': data mixes lists and numbers at the same level")
    if datatype == "BOOL":
        if not types <= {bool}:
            raise ProtocolError(f"input '{name}': data must be true/false for datatype BOOL")
    elif datatype in FLOAT_TYPES:
        if not types <= {float, int}:
            raise ProtocolError(f"input '{name}': data must be numbers for datatype {datatype}")
    elif not types <= {int}:
        raise ProtocolError(f"input '{name}': data must be integers for datatype {datatype}")
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a value beyond the type's range becomes inf: refused next
            return np.asarray(flat, dtype=dtype).reshape(shape)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ProtocolError(f"input '{name}': data is not valid {datatype}: {exc}") from None


def _require_finite(name: str, datatype: str, array: np.ndarray) -> None:
    if datatype in FLOAT_TYPES and array.size and not np.isfinite(array).all():
        bad = int(np.flatnonzero(~np.isfinite(array.reshape(-1)))[0])
        raise ProtocolError(
            f"input '{name}': element {bad} is {array.reshape(-1)[bad]} as {datatype} (NaN, Infinity or beyond the "
            "type's range); inputs must be finite"
        )


def _params(value: Any, kind: str, name: str = "") -> dict[str, Any]:
    """``value`` as a parameters object; ``kind`` and ``name`` ("input", "x") only name it in the error."""
    if value is None:
        return {}
    if type(value) is not dict:
        where = f"{kind} '{name}'" if name else kind
        raise ProtocolError(f"{where}: 'parameters' must be an object, got {type(value).__name__}")
    return value


def parse_infer(body: bytes, header_length: str | None, model: Model, limits: Limits) -> InferRequest:
    """Validate ``body`` against ``model``'s signature and ``limits``; raises ProtocolError on any client mistake."""
    if header_length is not None:
        try:
            json_len = int(header_length)
        except ValueError:
            raise ProtocolError(f"{HEADER_LENGTH}: {header_length!r} is not an integer") from None
        if not 0 < json_len <= len(body):
            raise ProtocolError(f"{HEADER_LENGTH}: {json_len} is outside the body length {len(body)}")
        header, binary = memoryview(body)[:json_len], memoryview(body)[json_len:]
    else:
        header, binary = memoryview(body), memoryview(b"")
    try:
        req = orjson.loads(header)  # rejects NaN/Infinity literals and nesting deeper than 1024
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"malformed JSON: {exc}") from None
    if not isinstance(req, dict):
        raise ProtocolError("request body must be a JSON object with an 'inputs' list")
    raw_inputs = req.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise ProtocolError("'inputs' must be a non-empty list of tensors")
    request_id = req.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise ProtocolError(f"'id' must be a string, got {type(request_id).__name__}")
    expected = model.inputs_by_name
    inputs: dict[str, np.ndarray] = {}
    offset = 0
    dynamic_elements = 1
    for i, tensor in enumerate(raw_inputs):
        if not isinstance(tensor, dict):
            raise ProtocolError(f"inputs[{i}] must be an object with name, shape, datatype and data")
        name = tensor.get("name")
        if not isinstance(name, str) or name not in expected:
            raise ProtocolError(f"inputs[{i}].name: {name!r} is not a model input; expected {sorted(expected)}")
        if name in inputs:
            raise ProtocolError(f"input '{name}' is given more than once")
        spec = expected[name]
        datatype = tensor.get("datatype")
        if datatype != spec.datatype:
            raise ProtocolError(
                f"input '{name}': datatype {datatype!r} does not match model datatype '{spec.datatype}'"
            )
        shape, dynamic = _check_shape(name, tensor.get("shape"), spec, limits)
        dynamic_elements = max(dynamic_elements, dynamic)
        count = math.prod(shape)
        dtype = V2_TO_NUMPY[datatype]
        params = _params(tensor.get("parameters"), "input", name)
        if "binary_data_size" in params:
            size = params["binary_data_size"]
            if not isinstance(size, int) or isinstance(size, bool) or size < 0 or offset + size > len(binary):
                raise ProtocolError(f"input '{name}': binary_data_size {size!r} exceeds the binary payload")
            if size != count * np.dtype(dtype).itemsize:
                raise ProtocolError(
                    f"input '{name}': binary_data_size {size} does not equal "
                    f"{count} elements x {np.dtype(dtype).itemsize} bytes"
                )
            # Zero-copy view of the request body (the body outlives the request).
            array: np.ndarray = np.frombuffer(binary, dtype=dtype, count=count, offset=offset).reshape(shape)
            offset += size
        else:
            if "data" not in tensor:
                raise ProtocolError(f"input '{name}': missing 'data'")
            flat = _flatten(name, tensor["data"], shape)
            if len(flat) != count:
                raise ProtocolError(f"input '{name}': shape {list(shape)} needs {count} elements, got {len(flat)}")
            array = _array_from_json(name, datatype, flat, shape)
        _require_finite(name, datatype, array)
        inputs[name] = array
    if len(inputs) != len(expected):  # names are unique and known, so fewer means some are missing
        raise ProtocolError(f"missing model inputs: {sorted(set(expected) - set(inputs))}")
    if offset != len(binary):
        raise ProtocolError(f"binary payload has {len(binary) - offset} unused bytes")

    known = model.output_names
    wanted = req.get("outputs")
    binary_default = bool(_params(req.get("parameters"), "request").get("binary_data_output", False))
    if wanted is None:
        parsed = InferRequest(
            request_id, inputs, list(known), set(known) if binary_default else set(), dynamic_elements
        )
    else:
        if not isinstance(wanted, list) or not wanted or not all(isinstance(o, dict) for o in wanted):
            raise ProtocolError("'outputs' must be a non-empty list of objects with a 'name'")
        names, binary_outputs = [], set()
        for o in wanted:
            if o.get("name") not in known:
                raise ProtocolError(f"outputs: {o.get('name')!r} is not a model output; expected {list(known)}")
            if o["name"] in names:
                raise ProtocolError(f"outputs: {o['name']!r} is asked for more than once")
            names.append(o["name"])
            if _params(o.get("parameters"), "output", o["name"]).get("binary_data", binary_default):
                binary_outputs.add(o["name"])
        parsed = InferRequest(request_id, inputs, names, binary_outputs, dynamic_elements)
    predicted = predict_response_bytes(model, parsed)
    if predicted is not None and predicted > limits.max_response_bytes:
        raise ProtocolError(_too_large(predicted, limits), 413)
    return parsed


def _too_large(size: int, limits: Limits) -> str:
    return (
        f"the response would be up to {size:,} bytes, above the limit {limits.max_response_bytes:,} "
        "(MAX_RESPONSE_BYTES); send fewer rows or shorter sequences, or ask for binary outputs"
    )


def _element_bytes(datatype: str, binary: bool) -> int:
    if binary:
        return int(np.dtype(V2_TO_NUMPY.get(datatype, np.float64)).itemsize)
    return JSON_BYTES_PER_ELEMENT.get(datatype, JSON_BYTES_INT)


def predict_response_bytes(model: Model, req: InferRequest) -> int | None:
    """Upper bound of the response body from the graph's output shapes, before running the model.

    Symbolic output axes ("batch", "seq") are bound from the inputs that carry the same symbol;
    an output with an axis no input names (data-dependent) cannot be predicted: None.
    """
    shapes = tuple(req.inputs[spec.name].shape for spec in model.inputs)
    binary = frozenset(req.binary_outputs) if req.binary_outputs else frozenset()
    # The bound depends only on these; clients send few distinct shapes, so it is kept per model (bounded).
    key = (tuple(req.outputs), binary, shapes)
    # Codec threads parse large bodies concurrently: each step is one dict operation, and a hit is one lookup
    # (no check-then-read that another thread's clear() could fall between).
    cache = model.response_bounds
    try:
        return cache[key]
    except KeyError:
        pass
    bound = _predict_response_bytes(model, *key)
    if len(cache) >= RESPONSE_BOUND_CACHE:
        cache.clear()
    cache[key] = bound
    return bound


def _predict_response_bytes(
    model: Model, outputs: tuple[str, ...], binary_outputs: frozenset[str], shapes: tuple[tuple[int, ...], ...]
) -> int | None:
    bound: dict[str, int] = {}
    for spec, shape in zip(model.inputs, shapes, strict=True):
        for sym, size in zip(spec.symbols, shape, strict=False):
            if sym is not None:
                bound.setdefault(sym, int(size))
    specs = model.outputs_by_name
    total = 0
    for name in outputs:
        spec = specs[name]
        elements = 1
        for d, sym in zip(spec.shape, spec.symbols or (None,) * len(spec.shape), strict=True):
            if d >= 0:
                elements *= d
            elif sym is not None and sym in bound:
                elements *= bound[sym]
            else:
                return None
        total += elements * _element_bytes(spec.datatype, name in binary_outputs) + 128
    return total


def check_response_size(req: InferRequest, arrays: list[np.ndarray], limits: Limits) -> None:
    """The same bound on the real outputs (for graphs whose output shapes could not be predicted)."""
    total = 0
    for name, a in zip(req.outputs, arrays, strict=True):
        per = a.itemsize if name in req.binary_outputs else JSON_BYTES_PER_ELEMENT.get(_v2_datatype(a), JSON_BYTES_INT)
        total += a.size * per + 128
    if total > limits.max_response_bytes:
        raise ProtocolError(_too_large(total, limits), 413)


_DTYPE_TO_V2 = {np.dtype(dtype): name for name, dtype in V2_TO_NUMPY.items()}


def _v2_datatype(array: np.ndarray) -> str:
    return _DTYPE_TO_V2.get(array.dtype, "BYTES")


_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def encode_response(model: Model, req: InferRequest, arrays: list[np.ndarray]) -> tuple[bytes, dict[str, str]]:
    """JSON body, or JSON header + binary tensors when any output asked for binary data.

    JSON data is written by orjson straight from the array (no Python float objects); a NaN or
    Infinity the model produced is written as ``null``, which keeps the body standard JSON.
    """
    outputs, blobs = [], []
    for name, array in zip(req.outputs, arrays, strict=True):
        out: dict[str, Any] = {"name": name, "datatype": _v2_datatype(array), "shape": list(array.shape)}
        if name in req.binary_outputs:
            blob = np.ascontiguousarray(array).data
            out["parameters"] = {"binary_data_size": blob.nbytes}
            blobs.append(blob)
        else:
            out["data"] = np.ascontiguousarray(array).reshape(-1)
        outputs.append(out)
    body: dict[str, Any] = {"model_name": model.name, "model_version": model.version, "outputs": outputs}
    if req.id is not None:
        body["id"] = req.id
    header = orjson.dumps(body, option=_NUMPY)
    if not blobs:
        return header, {"Content-Type": "application/json"}
    return b"".join([header, *blobs]), {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(header))}

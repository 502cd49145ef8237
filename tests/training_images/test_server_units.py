"""Server internals: dynamic batching merges concurrent requests, bounded queue, model from S3."""

from __future__ import annotations

import asyncio
import re
import threading
import warnings
from pathlib import Path

import boto3
import numpy as np
import pytest
import torch
from moto import mock_aws
from server import model as model_mod
from server import protocol
from server.app import Settings, SettingsError, State
from server.batching import Batcher, QueueFullError

IMAGES = Path(__file__).resolve().parents[2] / "training_images"


def test_concurrent_requests_are_merged_and_split_back() -> None:
    calls: list[int] = []

    async def run(x: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        calls.append(len(x))
        return [x * 2]

    async def scenario() -> list[list[np.ndarray]]:
        b = Batcher(run, max_batch=64, timeout_s=0.5, max_queue=16)
        b.start()
        reqs = [np.full((i + 1, 2), i, dtype=np.float32) for i in range(4)]
        try:
            return await asyncio.gather(*(b.submit(r, ["y"]) for r in reqs))
        finally:
            await b.stop()

    results = asyncio.run(scenario())
    assert calls == [10]  # 1 + 2 + 3 + 4 rows in one call
    for i, (out,) in enumerate(results):
        np.testing.assert_array_equal(out, np.full((i + 1, 2), 2 * i))


def test_batch_flushes_at_max_rows() -> None:
    calls: list[int] = []

    async def run(x: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        calls.append(len(x))
        return [x]

    async def scenario() -> None:
        b = Batcher(run, max_batch=4, timeout_s=5.0, max_queue=16)
        b.start()
        try:
            await asyncio.gather(*(b.submit(np.zeros((2, 1), np.float32), ["y"]) for _ in range(4)))
        finally:
            await b.stop()

    asyncio.run(scenario())
    assert calls == [4, 4]  # never waits out the 5 s timeout once a batch is full


def test_full_queue_is_refused() -> None:
    async def run(x: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        return [x]

    async def scenario() -> None:
        b = Batcher(run, max_batch=4, timeout_s=0.1, max_queue=1)  # not started: nothing drains the queue
        first = asyncio.ensure_future(b.submit(np.zeros((1, 1), np.float32), ["y"]))
        await asyncio.sleep(0)  # let the first submit enqueue
        with pytest.raises(QueueFullError, match="queue is full"):
            await b.submit(np.zeros((1, 1), np.float32), ["y"])
        first.cancel()

    asyncio.run(scenario())


@mock_aws
def test_model_loads_from_s3(tmp_path: Path) -> None:
    net = torch.nn.Linear(4, 2).eval()
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # legacy exporter: no onnxscript needed
        torch.onnx.export(
            net,
            (torch.zeros(1, 4),),
            str(path),
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "b"}, "y": {0: "b"}},
        )
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="models")
    s3.upload_file(str(path), "models", "digits/model.onnx")
    model = model_mod.load("s3://models/digits/model.onnx", "digits")
    assert model.metadata()["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    assert model.batchable


def test_settings_need_model_uri() -> None:
    with pytest.raises(ValueError, match="MODEL_URI: required"):
        Settings.from_env({})
    assert Settings.from_env({"MODEL_URI": "/m.onnx"}).port == 8080



@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAX_RESPONSE_BYTES": "lots"}, "MAX_RESPONSE_BYTES: 'lots' is not an integer"),
        ({"BODY_READ_TIMEOUT_S": "nan"}, "BODY_READ_TIMEOUT_S: 'nan' is below the minimum 0.001"),
        ({"MAX_DYNAMIC_DIM": "0"}, "MAX_DYNAMIC_DIM: '0' is below the minimum 1"),
        ({"AUTH_TOKEN": "short"}, "AUTH_TOKEN: the token has 5 characters; use at least 16"),
        ({"AUTH_TOKEN_FILE": "/nonexistent/token"}, "AUTH_TOKEN_FILE: cannot read '/nonexistent/token'"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env({"MODEL_URI": "/m.onnx", **env})


def test_token_file_wins_and_is_stripped(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("  0123456789abcdef0123\n")
    s = Settings.from_env({"MODEL_URI": "/m.onnx", "AUTH_TOKEN_FILE": str(token), "AUTH_TOKEN": "ignored-ignored-x"})
    assert s.auth_token == "0123456789abcdef0123"
    assert Settings.from_env({"MODEL_URI": "/m.onnx"}).auth_token == ""  # auth off unless configured


def _export(tmp_path: Path, hidden: int) -> Path:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10)).eval()
    path = tmp_path / f"m{hidden}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            net,
            (torch.zeros(1, 64),),
            str(path),
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "b"}, "y": {0: "b"}},
        )
    return path


def test_cheap_calls_run_on_the_loop_and_large_work_in_threads(tmp_path: Path) -> None:
    model = model_mod.load(str(_export(tmp_path, 16)), "m")
    assert model.cost is not None and model.predict_run_s(1) is not None
    assert model.predict_run_s(model_mod.CALIBRATION_ROWS + 1) is None  # beyond what was measured: never inline

    def where(*_: object) -> str:
        return threading.current_thread().name

    async def scenario(inline_us: float) -> tuple[str, str, str, str]:
        state = State(Settings(model_uri="unused", inline_infer_us=inline_us, inline_codec_bytes=1000))
        x = {"x": np.zeros((1, 64), np.float32)}
        loop_thread = threading.current_thread().name
        ran = await state.run(model, x, ["y"], 1)
        assert ran[0].shape == (1, 10)
        small, large = await state.codec_call(10, where), await state.codec_call(10_000, where)
        original = model.run
        try:
            model.run = lambda feeds, outs: [where()]  # type: ignore[method-assign, list-item]
            cheap = (await state.run(model, x, ["y"], 1))[0]
            costly = (await state.run(model, x, ["y"], 10_000))[0]
        finally:
            model.run = original  # type: ignore[method-assign]
            state.executor.shutdown()
            state.codec.shutdown()
        assert small == loop_thread and large.startswith("codec")
        return loop_thread, cheap, costly, large

    loop_thread, cheap, costly, _ = asyncio.run(scenario(inline_us=1e6))
    assert cheap == loop_thread and costly.startswith("ort")  # unmeasured size: executor
    loop_thread, cheap, _, _ = asyncio.run(scenario(inline_us=0.0))
    assert cheap.startswith("ort")  # INLINE_INFER_US=0 turns the inline path off


def test_output_bytes_are_predicted_from_symbolic_axes(tmp_path: Path) -> None:
    model = model_mod.load(str(_export(tmp_path, 16)), "m")
    req = protocol.InferRequest(None, {"x": np.zeros((7, 64), np.float32)}, ["y"], set())
    assert protocol.predict_response_bytes(model, req) == 7 * 10 * 16 + 128  # JSON worst case per FP32
    req.binary_outputs = {"y"}
    assert protocol.predict_response_bytes(model, req) == 7 * 10 * 4 + 128
    # The bound is cached per (outputs, binary outputs, input shapes): another batch size is another entry.
    req.inputs = {"x": np.zeros((9, 64), np.float32)}
    assert protocol.predict_response_bytes(model, req) == 9 * 10 * 4 + 128
    for rows in range(1, protocol.RESPONSE_BOUND_CACHE + 100):  # many shapes: the cache stays bounded
        req.inputs = {"x": np.empty((rows, 64), np.float32)}
        assert protocol.predict_response_bytes(model, req) == rows * 10 * 4 + 128
    assert 0 < len(model.response_bounds) <= protocol.RESPONSE_BOUND_CACHE


@pytest.mark.parametrize(
    ("datatype", "values", "bad"),
    [
        ("FP32", [0.0, np.inf, 1.0], 1),
        ("FP32", [1.0, 2.0, -np.inf, np.inf], 2),  # -inf + inf: a NaN sum, still refused at the first one
        ("FP32", [1.0, 2.0, 3.0, np.nan], 3),
        ("FP16", [np.nan], 0),
        ("FP64", [1.7e308, 1.7e308, np.inf], 2),
    ],
)
def test_non_finite_inputs_are_refused_at_the_first_bad_element(datatype: str, values: list[float], bad: int) -> None:
    array = np.array(values, dtype=model_mod.V2_TO_NUMPY[datatype])
    with pytest.raises(protocol.ProtocolError, match=f"element {bad} is"):
        protocol._require_finite("x", datatype, array)


@pytest.mark.parametrize(
    ("datatype", "values"),
    [
        ("FP64", [1.7e308, 1.7e308]),  # finite, though their sum overflows: the exact check lets it through
        ("FP32", [3.4e38] * 1000),
        ("FP16", [65504.0] * 1000),
        ("INT64", [2**62, 2**62]),
    ],
)
def test_large_finite_inputs_pass(datatype: str, values: list[float]) -> None:
    protocol._require_finite("x", datatype, np.array(values, dtype=model_mod.V2_TO_NUMPY[datatype]))


def test_metrics_histogram_uses_le_buckets_and_labels_stay_bounded() -> None:
    from prometheus_client import generate_latest
    from server.metrics import Metrics

    m = Metrics()
    model = m.for_model("digits")
    for v in (1, 2, 3, 64, 5000):  # 2 falls in le="2.0", 3 in le="4.0", 5000 only in +Inf
        model.request_batch.observe(v)
    model.requests(200).inc()
    model.requests(200).inc()
    for method in ("POST", "BREW", "GET"):
        m.http_requests.labels("/v2/models/{name}/infer", method, "2000").inc()
    text = generate_latest(m.registry).decode()
    assert 'inference_request_batch_size_bucket{le="1.0",model="digits"} 1.0' in text
    assert 'inference_request_batch_size_bucket{le="2.0",model="digits"} 2.0' in text
    assert 'inference_request_batch_size_bucket{le="4.0",model="digits"} 3.0' in text
    assert 'inference_request_batch_size_bucket{le="1024.0",model="digits"} 4.0' in text
    assert 'inference_request_batch_size_bucket{le="+Inf",model="digits"} 5.0' in text
    assert 'inference_request_batch_size_sum{model="digits"} 5070.0' in text
    assert 'inference_requests_total{code="200",model="digits"} 2.0' in text
    assert 'http_requests_total{code="other",method="other",route="/v2/models/{name}/infer"} 1.0' in text
    assert text.count("http_requests_total{") == 3

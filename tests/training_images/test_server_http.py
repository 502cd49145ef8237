"""Server: Open Inference Protocol over real HTTP on 127.0.0.1, bad input gets 4xx JSON, SIGTERM drains."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch
from compressor.reference import export_lm_shaped


def _export_mlp(path: Path) -> Path:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # legacy exporter: no onnxscript needed
        torch.onnx.export(
            net,
            (torch.zeros(1, 64),),
            str(path),
            dynamo=False,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )
    return path


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _export_mlp(tmp_path_factory.mktemp("model") / "digits.onnx")


class Server:
    def __init__(self, proc: subprocess.Popen[str], port: int):
        self.proc, self.port = proc, port
        self.base = f"http://127.0.0.1:{port}"

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def json(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        body = None if payload is None else json.dumps(payload).encode()
        status, _, raw = self.request(method, path, body, {"Content-Type": "application/json"})
        return status, json.loads(raw)


def _deadline_poll(predicate: Any, seconds: float, what: str) -> Any:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)  # poll interval; the predicate decides
    raise AssertionError(f"timed out waiting for {what}")


def start_server(env: dict[str, str], model_uri: str, wait_ready: bool = True, **extra: str) -> Server:
    env = {**env, "MODEL_URI": model_uri, "MODEL_NAME": "digits", "PORT": "0", "HOST": "127.0.0.1", **extra}
    proc = subprocess.Popen(
        [sys.executable, "-m", "server"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    port = None
    for line in proc.stdout:  # blocks until the server reports its port (or dies)
        if m := re.search(r'"event": "listening".*"port": (\d+)', line):
            port = int(m.group(1))
            break
    assert port, f"server did not start (exit code {proc.poll()})"
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
    server = Server(proc, port)
    if wait_ready:
        _deadline_poll(lambda: server.request("GET", "/v2/health/ready")[0] == 200, 30, "readiness")
    return server


def stop_server(server: Server) -> int:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
    return server.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(onnx_model: Path, child_env: dict[str, str]) -> Iterator[Server]:
    s = start_server(child_env, str(onnx_model), MAX_BODY_BYTES="65536")
    yield s
    assert stop_server(s) == 0


def _infer_payload(x: np.ndarray, **extra: Any) -> dict[str, Any]:
    return {
        "id": "r1",
        "inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32", "data": x.reshape(-1).tolist()}],
        **extra,
    }


def _expected(onnx_model: Path, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(str(onnx_model), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


def test_health_and_metadata(server: Server) -> None:
    assert server.json("GET", "/v2/health/live") == (200, {"live": True})
    assert server.json("GET", "/v2/health/ready") == (200, {"ready": True})
    assert server.json("GET", "/v2/models/digits/ready") == (200, {"name": "digits", "ready": True})
    status, meta = server.json("GET", "/v2/models/digits")
    assert status == 200
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}]
    assert meta["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}]
    assert server.json("GET", "/v2/models/other")[0] == 404


def test_infer_json_matches_onnxruntime(server: Server, onnx_model: Path) -> None:
    x = np.random.default_rng(0).random((3, 64), dtype=np.float32)
    status, body = server.json("POST", "/v2/models/digits/infer", _infer_payload(x))
    assert status == 200
    assert body["id"] == "r1" and body["model_name"] == "digits"
    out = body["outputs"][0]
    assert (out["name"], out["datatype"], out["shape"]) == ("logits", "FP32", [3, 10])
    np.testing.assert_allclose(np.array(out["data"]).reshape(3, 10), _expected(onnx_model, x), rtol=1e-5)
    # Versioned path and nested (non-flattened) data are accepted too.
    nested = {"inputs": [{"name": "input", "shape": [3, 64], "datatype": "FP32", "data": x.tolist()}]}
    assert server.json("POST", "/v2/models/digits/versions/1/infer", nested)[0] == 200


def test_infer_binary_tensor_extension(server: Server, onnx_model: Path) -> None:
    x = np.random.default_rng(1).random((2, 64), dtype=np.float32)
    header = json.dumps(
        {
            "inputs": [
                {"name": "input", "shape": [2, 64], "datatype": "FP32", "parameters": {"binary_data_size": x.nbytes}}
            ],
            "outputs": [{"name": "logits", "parameters": {"binary_data": True}}],
        }
    ).encode()
    status, headers, raw = server.request(
        "POST", "/v2/models/digits/infer", header + x.tobytes(), {"Inference-Header-Content-Length": str(len(header))}
    )
    assert status == 200
    json_len = int(headers["Inference-Header-Content-Length"])
    meta = json.loads(raw[:json_len])
    assert meta["outputs"][0]["parameters"]["binary_data_size"] == 2 * 10 * 4
    got = np.frombuffer(raw[json_len:], dtype=np.float32).reshape(2, 10)
    np.testing.assert_allclose(got, _expected(onnx_model, x), rtol=1e-5)


def _row(**over: Any) -> dict[str, Any]:
    return {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": [0.0] * 64, **over}]}


BAD_REQUESTS = {
    "malformed json": (b"{not json", 400, "malformed JSON"),
    "not an object": (b"[1, 2]", 400, "must be a JSON object"),
    "no inputs": (json.dumps({"inputs": []}).encode(), 400, "'inputs' must be a non-empty list"),
    "wrong shape": (
        json.dumps(_row(shape=[1, 65], data=[0.0] * 65)).encode(),
        400,
        "shape [1, 65] does not match model shape [-1, 64]",
    ),
    "wrong rank": (json.dumps(_row(shape=[64])).encode(), 400, "does not match model shape"),
    "wrong datatype": (
        json.dumps(_row(datatype="INT64", data=[0] * 64)).encode(),
        400,
        "datatype 'INT64' does not match model datatype 'FP32'",
    ),
    "count mismatch": (json.dumps(_row(data=[0.0] * 10)).encode(), 400, "needs 64 elements, got 10"),
    "strings as numbers": (json.dumps(_row(data=["a"] * 64)).encode(), 400, "data must be numbers"),
    "unknown input": (json.dumps(_row(name="pixels")).encode(), 400, "'pixels' is not a model input"),
    "negative dim": (json.dumps(_row(shape=[-1, 64])).encode(), 400, "non-negative integers"),
    "unknown output": (
        json.dumps({**_row(), "outputs": [{"name": "probs"}]}).encode(),
        400,
        "'probs' is not a model output",
    ),
    "oversize body": (json.dumps(_row(data=[0.123456789] * 64, pad="x" * 70_000)).encode(), 413, "exceeds 65536 bytes"),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_input_gets_4xx_json_error(server: Server, case: str) -> None:
    body, want_status, want_text = BAD_REQUESTS[case]
    status, _, raw = server.request("POST", "/v2/models/digits/infer", body, {"Content-Type": "application/json"})
    assert status == want_status
    error = json.loads(raw)["error"]
    assert want_text in error
    assert server.json("GET", "/v2/health/live")[0] == 200  # still alive


def test_bad_binary_header_is_4xx(server: Server) -> None:
    status, _, raw = server.request("POST", "/v2/models/digits/infer", b"{}", {"Inference-Header-Content-Length": "99"})
    assert status == 400 and "outside the body length" in json.loads(raw)["error"]


def test_unknown_route_and_method_are_json(server: Server) -> None:
    assert server.json("GET", "/v2/nope") == (404, {"error": "Not Found"})
    assert server.json("GET", "/v2/models/digits/infer")[0] == 405


def test_metrics_count_requests_latency_and_batch_sizes(server: Server) -> None:
    x = np.zeros((5, 64), dtype=np.float32)
    assert server.json("POST", "/v2/models/digits/infer", _infer_payload(x))[0] == 200
    text = server.request("GET", "/metrics")[2].decode()
    assert re.search(r'inference_requests_total\{code="200",model="digits"\} [1-9]', text)
    assert re.search(r'inference_requests_total\{code="400",model="digits"\} [1-9]', text)
    assert 'inference_request_duration_seconds_bucket{le="0.005",model="digits"}' in text
    assert re.search(r'inference_request_batch_size_bucket\{le="8.0",model="digits"\} [1-9]', text)
    assert "model_ready 1.0" in text


def test_not_ready_until_model_loads(onnx_model: Path, tmp_path: Path, child_env: dict[str, str]) -> None:
    missing = tmp_path / "not-there.onnx"
    s = start_server(child_env, str(missing), wait_ready=False)
    try:
        assert s.json("GET", "/v2/health/live")[0] == 200
        assert s.json("GET", "/v2/health/ready") == (503, {"ready": False})
        status, body = s.json("POST", "/v2/models/digits/infer", _row())
        assert status == 503 and "not loaded" in body["error"]
    finally:
        assert stop_server(s) == 0


def test_sigterm_drains_in_flight_request(onnx_model: Path, child_env: dict[str, str]) -> None:
    # A long batching window keeps the request in flight while SIGTERM arrives.
    s = start_server(child_env, str(onnx_model), MAX_BATCH_SIZE="8", BATCH_TIMEOUT_MS="1500")
    result: dict[str, Any] = {}

    def call() -> None:
        result["resp"] = s.json("POST", "/v2/models/digits/infer", _row())

    t = threading.Thread(target=call)
    t.start()
    _deadline_poll(
        lambda: "inference_in_flight_requests 1.0" in s.request("GET", "/metrics")[2].decode(),
        30,
        "the request to be in flight",
    )
    s.proc.send_signal(signal.SIGTERM)
    t.join(timeout=30)
    status, body = result["resp"]
    assert status == 200 and body["outputs"][0]["shape"] == [1, 10]
    assert s.proc.wait(timeout=30) == 0


# --- Hardening: hostile and malformed inputs, caps, auth, timeouts, bounded metrics -------------------------

HOSTILE_REQUESTS = {
    "nan literal": (
        b'{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":[NaN' + b",0" * 63 + b"]}]}",
        400,
        "malformed JSON",
    ),
    "float32 overflow to infinity": (json.dumps(_row(data=[1e39] * 64)).encode(), 400, "must be finite"),
    "deep nesting": (b"[" * 200_000 + b"]" * 200_000, 413, "exceeds 65536 bytes"),
    "nesting past the parser's depth": (b"[" * 5_000 + b"]" * 5_000, 400, "malformed JSON"),
    "ragged rows": (
        json.dumps(_row(shape=[2, 64], data=[[0.5] * 63, [0.5] * 65])).encode(),
        400,
        "does not match shape",
    ),
    "nested deeper than shape": (json.dumps(_row(data=[[[0.5]] * 64])).encode(), 400, "deeper than shape"),
    "top-level parameters a list": (json.dumps({**_row(), "parameters": [1]}).encode(), 400, "'parameters' must be"),
    "output parameters a string": (
        json.dumps({**_row(), "outputs": [{"name": "logits", "parameters": "x"}]}).encode(),
        400,
        "'parameters' must be an object",
    ),
    "input parameters a list": (json.dumps(_row(parameters=[1])).encode(), 400, "'parameters' must be an object"),
    "booleans as floats": (json.dumps(_row(data=[True] * 64)).encode(), 400, "data must be numbers"),
    "id not a string": (json.dumps({**_row(), "id": {"a": 1}}).encode(), 400, "'id' must be a string"),
    "empty outputs": (json.dumps({**_row(), "outputs": []}).encode(), 400, "non-empty list"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_REQUESTS))
def test_hostile_input_gets_4xx_json_error(server: Server, case: str) -> None:
    body, want_status, want_text = HOSTILE_REQUESTS[case]
    status, _, raw = server.request("POST", "/v2/models/digits/infer", body, {"Content-Type": "application/json"})
    assert status == want_status
    assert want_text in json.loads(raw)["error"]


def test_binary_nan_and_infinity_are_refused(server: Server) -> None:
    for bad in (np.nan, np.inf, -np.inf):
        x = np.zeros((2, 64), dtype=np.float32)
        x[1, 3] = bad
        header = json.dumps(
            {
                "inputs": [
                    {"name": "input", "shape": [2, 64], "datatype": "FP32", "parameters": {"binary_data_size": 512}}
                ]
            }
        ).encode()
        status, _, raw = server.request(
            "POST",
            "/v2/models/digits/infer",
            header + x.tobytes(),
            {"Inference-Header-Content-Length": str(len(header))},
        )
        assert status == 400
        assert "element 67" in json.loads(raw)["error"] and "must be finite" in json.loads(raw)["error"]


def test_metric_labels_stay_bounded_under_random_urls(server: Server) -> None:
    before = server.request("GET", "/metrics")[2].decode().count("\n")
    for i in range(60):
        assert server.json("POST", f"/v2/models/random-{i}/infer", _row())[0] == 404
        assert server.request("GET", f"/no/such/path/{i}")[0] == 404
    text = server.request("GET", "/metrics")[2].decode()
    assert "random-" not in text and "/no/such" not in text
    assert re.search(r'http_requests_total\{code="404",method="POST",route="/v2/models/\{name\}/infer"\} [1-9]', text)
    assert re.search(r'http_requests_total\{code="404",method="GET",route="unmatched"\} [1-9]', text)
    # 120 requests to 120 distinct URLs added a handful of series, not one per URL.
    assert text.count("\n") - before < 20


@pytest.fixture(scope="module")
def lm_server(tmp_path_factory: pytest.TempPathFactory, child_env: dict[str, str]) -> Iterator[Server]:
    model = export_lm_shaped(tmp_path_factory.mktemp("lm") / "lm.onnx")
    # Small caps so the test requests stay small: 512 tokens per axis, 2,048 per request, 1 MiB responses.
    s = start_server(
        child_env,
        str(model),
        MAX_DYNAMIC_DIM="512",
        MAX_DYNAMIC_ELEMENTS="2048",
        MAX_RESPONSE_BYTES=str(1024 * 1024),
        BODY_READ_TIMEOUT_S="0.5",
    )
    yield s
    assert stop_server(s) == 0


def _tokens(ids: np.ndarray, binary: bool) -> tuple[bytes, dict[str, str]]:
    tensor: dict[str, Any] = {"name": "input", "shape": list(ids.shape), "datatype": "INT64"}
    if not binary:
        return json.dumps({"inputs": [{**tensor, "data": ids.ravel().tolist()}]}).encode(), {}
    tensor["parameters"] = {"binary_data_size": ids.nbytes}
    header = json.dumps(
        {"inputs": [tensor], "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]}
    ).encode()
    return header + ids.tobytes(), {"Inference-Header-Content-Length": str(len(header))}


def test_lm_shaped_model_caps_sequence_tokens_and_response(lm_server: Server) -> None:
    def post(ids: np.ndarray, binary: bool = False) -> tuple[int, str]:
        body, headers = _tokens(ids, binary)
        status, _, raw = lm_server.request("POST", "/v2/models/digits/infer", body, headers)
        return status, raw[:2000].decode(errors="replace")

    status, text = post(np.zeros((1, 513), np.int64))
    assert status == 413 and "axis 1 has size 513, above the limit 512" in text
    status, text = post(np.zeros((8, 512), np.int64))
    assert status == 413 and "4096 elements over its dynamic axes, above the limit 2048" in text
    # 2,048 tokens x 256 logits: 8.4 MB of JSON at worst, 2 MiB binary: both over the 1 MiB cap, refused before running.
    status, text = post(np.zeros((4, 512), np.int64))
    assert status == 413 and "MAX_RESPONSE_BYTES" in text
    status, text = post(np.zeros((4, 512), np.int64), binary=True)
    assert status == 413 and "2,097," in text
    # 1,024 logits x 256 x 4 B = exactly the 1 MiB cap plus the header: refused; half of it fits.
    assert post(np.zeros((1, 256), np.int64), binary=True)[0] == 200
    assert post(np.zeros((1, 32), np.int64))[0] == 200
    status, text = post(np.full((1, 4), 300, np.int64))
    assert status == 400 and "the model rejected the input" in text  # token id outside the embedding table
    status, text = post(np.array([[1.5, 2.0]]), binary=False)
    assert status == 400 and "must be integers for datatype INT64" in text
    assert lm_server.json("GET", "/v2/health/live")[0] == 200


def test_slow_body_gets_408_and_server_stays_responsive(lm_server: Server) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", lm_server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v2/models/digits/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"inputs": ['
        )
        start = time.monotonic()
        reply = sock.recv(4096).decode()
        waited = time.monotonic() - start
    assert reply.startswith("HTTP/1.1 408") and "BODY_READ_TIMEOUT_S" in reply
    assert waited < 5  # the 0.5 s limit, not the client's patience
    assert lm_server.json("GET", "/v2/health/live")[0] == 200


def test_bearer_token_auth(onnx_model: Path, tmp_path: Path, child_env: dict[str, str]) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token-0123456789abcdef\n")
    s = start_server(child_env, str(onnx_model), wait_ready=False, AUTH_TOKEN_FILE=str(token_file))
    try:
        # Probes need no token (kubelet sends none); everything else does.
        _deadline_poll(lambda: s.request("GET", "/v2/health/ready")[0] == 200, 30, "readiness")
        assert s.json("GET", "/v2/health/live")[0] == 200
        body = json.dumps(_row()).encode()
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789abcdef"}, {"Authorization": "Basic abc"}):
            status, resp_headers, raw = s.request("POST", "/v2/models/digits/infer", body, headers)
            assert status == 401 and resp_headers["WWW-Authenticate"].startswith("Bearer")
            assert "bearer token" in json.loads(raw)["error"]
        assert s.request("GET", "/metrics")[0] == 401
        assert s.request("GET", "/v2/models/digits")[0] == 401
        good = {"Authorization": "Bearer s3cret-token-0123456789abcdef"}
        assert s.request("POST", "/v2/models/digits/infer", body, good)[0] == 200
        assert s.request("GET", "/metrics", None, good)[0] == 200
    finally:
        assert stop_server(s) == 0

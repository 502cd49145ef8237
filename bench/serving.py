"""Serving benchmark: int8 ONNX model vs fp32 teacher behind the same hardened server, bad payloads mixed in.

Builds the artifacts with bench/compression.py (or reuses ``--artifacts``), then
starts ``python -m server`` twice on 127.0.0.1 (fp32 teacher and int8 model, both
with bearer-token auth on) and drives them in interleaved rounds (fp32 cell, int8
cell, next cell, ...; best round kept per cell, the same rule for both models, so
background load on a shared machine hits both alike). Two workloads: batch 1 as
JSON and batch 64 as binary tensors (the Triton client default), at several
concurrency levels. One request in ``--bad-every`` is a bad payload (NaN/Infinity,
overflow, malformed or deeply nested JSON, ragged data, parameters of the wrong
type, an oversized batch, a wrong token, an unknown model name, ...); each must get
its exact 4xx, and every good request a 200.

The load generator is a minimal keep-alive HTTP/1.1 client on asyncio streams
(prebuilt request bytes, Content-Length framing): on a 2-core machine a full HTTP
client library would use as much CPU as the server it measures.

A last phase serves an LM-shaped model (embedding 256x64 -> linear 64->256, dynamic
batch and sequence axes: the shape of security finding 5) and sends the requests
that used to OOM-kill a replica (a 150,000-token JSON sequence, 65,536-token
batches as JSON and binary, an out-of-vocabulary id), 16 at a time, while timing
liveness. Every server process is checked for restarts (it must still be the same
running process) and its peak RSS (VmHWM) against the pod's 4 GiB memory limit.

The last line is one JSON object: rps_ratio (wall clock), cpu_rps_ratio (requests per
second of server CPU time, which other load on a shared machine does not distort) and
p99_ratio (each int8 / fp32, geometric mean over cells), errors_5xx, unexpected (responses
whose status was not the expected one), restarts, peak_rss_mib, pod_limit_mib, liveness_max_ms.

    .venv/bin/python bench/serving.py [--duration 2] [--rounds 3] [--concurrency 1,8,32] [--artifacts DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
POD_LIMIT_MIB = 4096  # servers[].memoryGib default (components/workloads/config.py): the replica's memory limit
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Call:
    """One prebuilt HTTP request and the status it must get."""

    name: str
    raw: bytes
    expect: int


def _http(path: str, body: bytes, headers: dict[str, str], token: str | None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {HOST}", f"Content-Length: {len(body)}"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _tensor_request(x: np.ndarray, datatype: str, binary: bool, output: str = "logits") -> tuple[bytes, dict[str, str]]:
    shape = list(x.shape)
    if not binary:
        body = {"inputs": [{"name": "input", "shape": shape, "datatype": datatype, "data": x.ravel().tolist()}]}
        return json.dumps(body).encode(), {"Content-Type": "application/json"}
    header = json.dumps(
        {
            "inputs": [
                {"name": "input", "shape": shape, "datatype": datatype, "parameters": {"binary_data_size": x.nbytes}}
            ],
            "outputs": [{"name": output, "parameters": {"binary_data": True}}],
        }
    ).encode()
    return header + x.tobytes(), {
        "Inference-Header-Content-Length": str(len(header)),
        "Content-Type": "application/octet-stream",
    }


def good_call(model: str, batch: int, binary: bool, token: str) -> Call:
    x = np.random.default_rng(batch).random((batch, 64), dtype=np.float32)
    body, headers = _tensor_request(x, "FP32", binary)
    return Call(
        f"b{batch}-{'binary' if binary else 'json'}", _http(f"/v2/models/{model}/infer", body, headers, token), 200
    )


def bad_calls(model: str, token: str) -> list[Call]:
    """Client mistakes and hostile inputs for the [-1, 64] FP32 model; each has one right answer."""
    path = f"/v2/models/{model}/infer"
    js = {"Content-Type": "application/json"}

    def row(**over: Any) -> dict[str, Any]:
        return {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": [0.5] * 64, **over}]}

    nan = np.full((1, 64), np.nan, dtype=np.float32)
    nan_body, nan_headers = _tensor_request(nan, "FP32", binary=True)
    cases = [
        (
            "nan-literal",
            b'{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":[NaN' + b",0" * 63 + b"]}]}",
            400,
        ),
        ("infinity-overflow", json.dumps(row(data=[1e39] * 64)).encode(), 400),
        ("malformed", b'{"inputs": [', 400),
        ("deep-nesting", b"[" * 100_000 + b"]" * 100_000, 400),
        ("ragged", json.dumps(row(data=[[0.5] * 63, [0.5]])).encode(), 400),
        ("params-list", json.dumps({**row(), "parameters": [1]}).encode(), 400),
        (
            "output-params-string",
            json.dumps({**row(), "outputs": [{"name": "logits", "parameters": "x"}]}).encode(),
            400,
        ),
        ("batch-too-large", json.dumps(row(shape=[5000, 64], data=[])).encode(), 413),
        ("wrong-shape", json.dumps(row(shape=[1, 65])).encode(), 400),
        ("strings", json.dumps(row(data=["a"] * 64)).encode(), 400),
    ]
    calls = [Call(n, _http(path, b, js, token), s) for n, b, s in cases]
    calls.append(Call("binary-nan", _http(path, nan_body, nan_headers, token), 400))
    calls.append(Call("wrong-token", _http(path, json.dumps(row()).encode(), js, "x" * 32), 401))
    calls.append(Call("no-token", _http(path, json.dumps(row()).encode(), js, None), 401))
    calls.append(
        Call(
            "unknown-model",
            _http(f"/v2/models/m-{secrets.token_hex(4)}/infer", json.dumps(row()).encode(), js, token),
            404,
        )
    )
    return calls


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # good requests only
    statuses: dict[int, int] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    await reader.readexactly(int(m.group(1)) if m else 0)
    if re.search(rb"(?i)\r\nconnection: *close", head):
        raise ConnectionResetError("server closed the connection")
    return status


async def _worker(
    port: int, good: Call, bad: list[Call], bad_every: int, deadline: float, tally: Tally, seed: int
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    i = seed
    try:
        while time.perf_counter() < deadline:
            i += 1
            call = bad[(i // bad_every) % len(bad)] if bad and i % bad_every == 0 else good
            t0 = time.perf_counter()
            try:
                status = await _exchange(reader, writer, call.raw)
            except (ConnectionError, asyncio.IncompleteReadError):
                status = 0
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
            if call is good and status == 200:
                tally.latencies.append(time.perf_counter() - t0)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if status != call.expect:
                tally.unexpected.append(f"{call.name}: {status} (expected {call.expect})")
    finally:
        writer.close()


async def run_cell(
    port: int,
    good: Call,
    bad: list[Call],
    concurrency: int,
    duration: float,
    bad_every: int,
    cpu: Callable[[], float] = lambda: 0.0,
) -> dict[str, Any]:
    warm = Tally()
    await asyncio.gather(*(_worker(port, good, [], 1, time.perf_counter() + 0.2, warm, 0) for _ in range(concurrency)))
    tally = Tally()
    cpu0 = cpu()
    start = time.perf_counter()
    await asyncio.gather(*(_worker(port, good, bad, bad_every, start + duration, tally, k) for k in range(concurrency)))
    elapsed = time.perf_counter() - start
    cpu_s = cpu() - cpu0
    lat = np.array(tally.latencies or [math.nan]) * 1e3
    return {
        "rps": len(tally.latencies) / elapsed,
        "good": len(tally.latencies),
        "cpu_s": cpu_s,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "bad": sum(tally.statuses.values()) - len(tally.latencies),
        "errors_5xx": sum(n for s, n in tally.statuses.items() if s >= 500 or s == 0),
        "unexpected": tally.unexpected,
    }


class ServerProc:
    def __init__(self, model: Path, name: str, token: str, **env: str):
        full = {
            **os.environ,
            "MODEL_URI": str(model),
            "MODEL_NAME": name,
            "PORT": "0",
            "HOST": HOST,
            "AUTH_TOKEN": token,
            "PYTHONPATH": os.pathsep.join(str(ROOT / "training_images" / d) for d in ("server", "common")),
            "OMP_NUM_THREADS": "1",
            **env,
        }
        self.proc = subprocess.Popen([sys.executable, "-m", "server"], env=full, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.port = 0
        for line in self.proc.stdout:
            if m := re.search(r'"port": (\d+)', line):
                self.port = int(m.group(1))
            if '"model_ready"' in line:
                break
        if not self.port or self.proc.poll() is not None:
            raise RuntimeError(f"server for {model} did not become ready")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process, all threads (Linux /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        m = re.search(r"VmHWM:\s+(\d+) kB", status)
        return int(m.group(1)) / 1024 if m else math.nan

    def stop(self) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


async def _liveness_probe(port: int, stop: asyncio.Event, worst: list[float]) -> None:
    raw = f"GET /v2/health/live HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while not stop.is_set():
            t0 = time.perf_counter()
            await _exchange(reader, writer, raw)
            worst[0] = max(worst[0], time.perf_counter() - t0)
            await asyncio.sleep(0.01)
    finally:
        writer.close()


async def _attack(port: int, calls: list[Call], repeat: int, concurrency: int) -> tuple[list[str], float]:
    stop, worst = asyncio.Event(), [0.0]
    probe = asyncio.create_task(_liveness_probe(port, stop, worst))
    unexpected: list[str] = []
    queue = [c for _ in range(repeat) for c in calls]

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while queue:
                call = queue.pop()
                try:
                    status = await _exchange(reader, writer, call.raw)
                except (ConnectionError, asyncio.IncompleteReadError):
                    status = 0
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
                if status != call.expect:
                    unexpected.append(f"{call.name}: {status} (expected {call.expect})")
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    stop.set()
    await probe
    return unexpected, worst[0] * 1e3


def lm_attack(tmp: Path, token: str) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "training_images" / "compressor"))
    from compressor.reference import export_lm_shaped

    model = export_lm_shaped(tmp / "lm_shaped.onnx")
    server = ServerProc(model, "lm", token)
    path = "/v2/models/lm/infer"
    rng = np.random.default_rng(0)

    def tokens(b: int, t: int, binary: bool, hi: int = 256) -> tuple[bytes, dict[str, str]]:
        return _tensor_request(rng.integers(0, hi, size=(b, t), dtype=np.int64), "INT64", binary)

    cases = [
        ("lm-150k-token-json", tokens(1, 150_000, False), 413),  # the 531 MB response of finding 5
        ("lm-65k-tokens-json", tokens(16, 4096, False), 413),  # 16.8M logits: 268 MB of JSON
        ("lm-65k-tokens-binary", tokens(16, 4096, True), 413),  # 67 MB binary: above the 32 MiB cap
        ("lm-16k-tokens-binary", tokens(4, 4096, True), 200),  # 16.8 MB binary: allowed
        ("lm-out-of-vocab", tokens(2, 16, False, hi=100_000), 400),
    ]
    calls = [Call(n, _http(path, b, h, token), s) for n, (b, h), s in cases]
    unexpected, liveness_ms = asyncio.run(_attack(server.port, calls, repeat=4, concurrency=16))
    result = {
        "unexpected": unexpected,
        "liveness_max_ms": liveness_ms,
        "alive": server.alive(),
        "peak_rss_mib": server.peak_rss_mib(),
        "requests": len(calls) * 4,
    }
    server.stop()
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--artifacts", help="directory holding model.onnx and teacher_fp32.onnx (default: build them)")
    p.add_argument("--duration", type=float, default=2.0, help="seconds per cell and round (default 2)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best is kept per cell (default 3)")
    p.add_argument("--concurrency", default="1,8,32", help="comma-separated levels (default 1,8,32)")
    p.add_argument("--workers", type=int, default=1, help="server INFER_WORKERS (default 1: one ORT thread)")
    p.add_argument("--bad-every", type=int, default=10, help="every Nth request is a bad payload (default 10)")
    args = p.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    token = secrets.token_hex(32)
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = Path(args.artifacts) if args.artifacts else None
        if artifacts is None:
            sys.path.insert(0, str(ROOT / "bench"))
            from compression import build_artifacts

            build_artifacts(Path(tmp))
            artifacts = Path(tmp) / "artifacts"
        servers = {
            label: ServerProc(artifacts / fname, "digits", token, INFER_WORKERS=str(args.workers))
            for label, fname in (("fp32", "teacher_fp32.onnx"), ("int8", "model.onnx"))
        }
        bad = bad_calls("digits", token)
        cells: dict[str, dict[str, list[dict[str, Any]]]] = {label: {} for label in servers}
        try:
            for _ in range(args.rounds):
                for batch, binary in ((1, False), (64, True)):
                    good = good_call("digits", batch, binary, token)
                    for c in levels:
                        for label, server in servers.items():
                            cell = asyncio.run(
                                run_cell(server.port, good, bad, c, args.duration, args.bad_every, server.cpu_seconds)
                            )
                            cells[label].setdefault(f"{good.name}@c{c}", []).append(cell)
            alive = {label: s.alive() for label, s in servers.items()}
            rss = {label: s.peak_rss_mib() for label, s in servers.items()}
        finally:
            for s in servers.values():
                s.stop()
        attack = lm_attack(Path(tmp), token)

    print(
        "| workload | fp32 req/s | int8 req/s | ratio | fp32 req/cpu-s | int8 req/cpu-s | ratio | fp32 p50 ms "
        "| int8 p50 ms | fp32 p99 ms | int8 p99 ms | p99 ratio | bad payloads | 5xx |"
    )
    print("|" + "---|" * 14)
    rps_ratios, cpu_ratios, p99_ratios, errors_5xx, bad_total = [], [], [], 0, 0
    unexpected: list[str] = []
    for name in cells["fp32"]:
        best = {}
        for label in cells:
            rounds = cells[label][name]
            best[label] = {
                "rps": max(r["rps"] for r in rounds),
                # Requests per second of server CPU: what one core of the pod serves, whatever else the
                # machine runs (the wall-clock rps above shares 2 cores with the load generator).
                "cpu_rps": max(r["good"] / max(r["cpu_s"], 1e-3) for r in rounds),
                "p50_ms": min(r["p50_ms"] for r in rounds),
                "p99_ms": min(r["p99_ms"] for r in rounds),
            }
            errors_5xx += sum(r["errors_5xx"] for r in rounds)
            bad_total += sum(r["bad"] for r in rounds)
            unexpected += [u for r in rounds for u in r["unexpected"]]
        f, q = best["fp32"], best["int8"]
        rps_ratios.append(q["rps"] / f["rps"])
        cpu_ratios.append(q["cpu_rps"] / f["cpu_rps"])
        p99_ratios.append(q["p99_ms"] / f["p99_ms"])
        n5 = sum(r["errors_5xx"] for label in cells for r in cells[label][name])
        nb = sum(r["bad"] for label in cells for r in cells[label][name])
        print(
            f"| {name} | {f['rps']:.0f} | {q['rps']:.0f} | {rps_ratios[-1]:.2f}x | {f['cpu_rps']:.0f} | "
            f"{q['cpu_rps']:.0f} | {cpu_ratios[-1]:.2f}x | {f['p50_ms']:.2f} | "
            f"{q['p50_ms']:.2f} | {f['p99_ms']:.2f} | {q['p99_ms']:.2f} | {p99_ratios[-1]:.2f} | {nb} | {n5} |"
        )
    unexpected += attack["unexpected"]
    restarts = sum(not a for a in alive.values()) + (not attack["alive"])
    peak = max([*rss.values(), attack["peak_rss_mib"]])
    print(
        f"\n{len(rps_ratios)} cells, best of {args.rounds} interleaved rounds of {args.duration:g} s, server "
        f"INFER_WORKERS={args.workers}, ORT 1 thread, bearer auth on; 1 request in {args.bad_every} is a bad payload "
        f"({bad_total} sent, latencies are of good requests). Ratios are int8 / fp32 (rps > 1 and p99 < 1 favour "
        "int8); summary = geometric mean over cells."
    )
    print(
        f"LM-shaped attack: {attack['requests']} requests, 16 concurrent; liveness worst "
        f"{attack['liveness_max_ms']:.1f} ms; peak RSS fp32 {rss['fp32']:.0f} MiB, int8 {rss['int8']:.0f} MiB, "
        f"LM {attack['peak_rss_mib']:.0f} MiB "
        f"(pod limit {POD_LIMIT_MIB} MiB)."
    )
    for u in sorted(set(unexpected)):
        print(f"UNEXPECTED {u}")
    geo = lambda xs: math.exp(sum(map(math.log, xs)) / len(xs))  # noqa: E731
    summary = {
        "rps_ratio": round(geo(rps_ratios), 4),
        "cpu_rps_ratio": round(geo(cpu_ratios), 4),
        "p99_ratio": round(geo(p99_ratios), 4),
        "errors_5xx": errors_5xx,
        "unexpected": len(unexpected),
        "restarts": restarts,
        "peak_rss_mib": round(peak, 1),
        "pod_limit_mib": POD_LIMIT_MIB,
        "liveness_max_ms": round(attack["liveness_max_ms"], 1),
    }
    print(json.dumps(summary))
    ok = errors_5xx == 0 and not unexpected and restarts == 0 and peak < POD_LIMIT_MIB
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Serving benchmark: bounded loopback load test of the int8 ONNX server vs the same server serving the fp32 teacher.

Builds the artifacts with bench/compression.py (or reuses ``--artifacts``),
then for each model starts ``python -m server`` on 127.0.0.1 and drives it at
several concurrency levels for a fixed duration with two workloads: batch 1
as JSON and batch 64 as binary tensors (the Triton client default). Prints
requests/s, p50/p99 latency and errors per cell. The last line is one JSON
object: rps_ratio and p99_ratio (compressed / fp32, geometric mean over all
cells) and errors (total over both servers; must be 0).

    .venv/bin/python bench/serving.py [--duration 3] [--concurrency 1,8,32] [--artifacts DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _payload(batch: int, binary: bool) -> tuple[bytes, dict[str, str]]:
    x = np.random.default_rng(batch).random((batch, 64), dtype=np.float32)
    if not binary:
        body = {"inputs": [{"name": "input", "shape": [batch, 64], "datatype": "FP32", "data": x.ravel().tolist()}]}
        return json.dumps(body).encode(), {"Content-Type": "application/json"}
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": [batch, 64],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": x.nbytes},
                }
            ],
            "outputs": [{"name": "logits", "parameters": {"binary_data": True}}],
        }
    ).encode()
    return header + x.tobytes(), {
        "Inference-Header-Content-Length": str(len(header)),
        "Content-Type": "application/octet-stream",
    }


async def _load(url: str, body: bytes, headers: dict[str, str], concurrency: int, duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    ok = resp.status == 200
            except aiohttp.ClientError:
                ok = False
            latencies.append(time.perf_counter() - t0)
            errors += not ok

    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:
        await worker_warmup(session, url, body, headers)
        start = time.perf_counter()
        deadline = start + duration
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    lat = np.array(latencies) * 1e3
    return {
        "rps": len(lat) / elapsed,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "errors": errors,
        "requests": len(lat),
    }


async def worker_warmup(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> None:
    for _ in range(50):
        async with session.post(url, data=body, headers=headers) as resp:
            await resp.read()


def _start_server(model: Path, workers: int) -> tuple[subprocess.Popen[str], int]:
    env = {
        **os.environ,
        "MODEL_URI": str(model),
        "MODEL_NAME": "digits",
        "PORT": "0",
        "HOST": "127.0.0.1",
        "INFER_WORKERS": str(workers),
        "ORT_INTRA_OP_THREADS": "1",
        "PYTHONPATH": str(ROOT / "training_images" / "server"),
    }
    proc = subprocess.Popen([sys.executable, "-m", "server"], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = 0
    for line in proc.stdout:
        if m := re.search(r'"port": (\d+)', line):
            port = int(m.group(1))
        if '"model_ready"' in line:
            break
    if not port or proc.poll() is not None:
        raise RuntimeError(f"server for {model} did not become ready")
    return proc, port


def bench_model(model: Path, levels: list[int], duration: float, workers: int) -> dict[str, dict[str, Any]]:
    proc, port = _start_server(model, workers)
    url = f"http://127.0.0.1:{port}/v2/models/digits/infer"
    cells = {}
    try:
        for name, batch, binary in (("b1-json", 1, False), ("b64-binary", 64, True)):
            body, headers = _payload(batch, binary)
            for c in levels:
                cells[f"{name}@c{c}"] = asyncio.run(_load(url, body, headers, c, duration))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return cells


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--artifacts", help="directory holding model.onnx and teacher_fp32.onnx (default: build them)")
    p.add_argument("--duration", type=float, default=3.0, help="seconds per cell (default 3)")
    p.add_argument("--concurrency", default="1,8,32", help="comma-separated levels (default 1,8,32)")
    p.add_argument("--workers", type=int, default=1, help="server INFER_WORKERS (default 1: single-threaded)")
    args = p.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = Path(args.artifacts) if args.artifacts else None
        if artifacts is None:
            sys.path.insert(0, str(ROOT / "bench"))
            from compression import build_artifacts

            build_artifacts(Path(tmp))
            artifacts = Path(tmp) / "artifacts"
        results = {
            label: bench_model(artifacts / fname, levels, args.duration, args.workers)
            for label, fname in (("fp32", "teacher_fp32.onnx"), ("int8", "model.onnx"))
        }
    print(
        "| workload | fp32 req/s | int8 req/s | ratio | fp32 p50 ms | int8 p50 ms | fp32 p99 ms | int8 p99 ms "
        "| p99 ratio | errors |"
    )
    print("|" + "---|" * 10)
    rps_ratios, p99_ratios = [], []
    for cell, f in results["fp32"].items():
        q = results["int8"][cell]
        rps_ratios.append(q["rps"] / f["rps"])
        p99_ratios.append(q["p99_ms"] / f["p99_ms"])
        print(
            f"| {cell} | {f['rps']:.0f} | {q['rps']:.0f} | {rps_ratios[-1]:.2f}x | {f['p50_ms']:.2f} | "
            f"{q['p50_ms']:.2f} | {f['p99_ms']:.2f} | {q['p99_ms']:.2f} | {p99_ratios[-1]:.2f} | "
            f"{f['errors'] + q['errors']} |"
        )
    errors = sum(c["errors"] for r in results.values() for c in r.values())
    print(
        f"\n{len(rps_ratios)} cells, {args.duration:g} s each, server INFER_WORKERS={args.workers}, ORT 1 thread; "
        "ratios are int8 / fp32 (rps > 1 and p99 < 1 favour int8); summary = geometric mean over cells."
    )
    geo = lambda xs: math.exp(sum(map(math.log, xs)) / len(xs))  # noqa: E731
    print(
        json.dumps({"rps_ratio": round(geo(rps_ratios), 4), "p99_ratio": round(geo(p99_ratios), 4), "errors": errors})
    )
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

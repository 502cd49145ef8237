"""Serving benchmark: int8 ONNX model vs fp32 teacher behind the same hardened server, bad payloads mixed in.

Two teachers, each compressed by bench/compression.py (trainer, then the compressor: a
distilled [64]-wide student quantized to int8) and served side by side in one run:

- ``reference``: the digits reference teacher (``TEACHER_FLAGS``, hidden 512,512, 0.3M
  parameters, 1.2 MB). Its batch-1 call takes about 20 us, a fraction of what the server
  spends on one request (HTTP, auth, parsing, metrics), so this pair measures the server
  more than the model.
- ``serving``: the same trainer flags with hidden ``--teacher-hidden`` (default 2048,2048:
  4.3M parameters, 17 MB of fp32 weights, about 0.7 ms per batch-1 call on one core). Why
  that size: still small for a served model (torchvision's ResNet-50 has 25.6M parameters,
  a 97.8 MB file), its weights no longer fit in a core's L2 cache (2 MiB here), as is true
  of anything one deploys behind a server, and training and compressing it takes minutes,
  not tens of minutes, on 2 cores (4-6 on a shared machine; ``--artifacts DIR`` keeps the
  builds for reruns). It was fixed before the serving ratios were measured, not tuned to
  them. The compressed model must still do the job: the table header gives the teacher's
  and the int8 model's test accuracy from the compressor's report.

Each of the four models gets its own ``python -m server`` on 127.0.0.1 (bearer-token
auth on); the cells run in interleaved rounds (fp32 cell, int8 cell, next cell, ...;
best round kept per cell, the same rule for every model, so background load on a
shared machine hits them alike). Two workloads: batch 1 as JSON and batch 64 as binary
tensors (the Triton client default), at several concurrency levels. One request in
``--bad-every`` is a bad payload (NaN/Infinity, overflow, malformed or deeply nested JSON,
ragged data, parameters of the wrong type, an oversized batch, a wrong token, an unknown
model name, ...); each must get its exact 4xx, and every good request a 200.

The load generator is a minimal keep-alive HTTP/1.1 client on asyncio streams
(prebuilt request bytes, Content-Length framing): on a 2-core machine a full HTTP
client library would use as much CPU as the server it measures.

A last phase serves an LM-shaped model (embedding 256x64 -> linear 64->256, dynamic
batch and sequence axes: the shape of security finding 5) and sends the requests
that used to OOM-kill a replica (a 150,000-token JSON sequence, 65,536-token
batches as JSON and binary, an out-of-vocabulary id), 16 at a time, while timing
liveness. Every server process is checked for restarts (it must still be the same
running process) and its peak RSS (VmHWM) against the pod's 4 GiB memory limit.

The last line is one JSON object: per teacher (``reference``, ``serving``) its widths,
parameters, test accuracy of the teacher and of the int8 model, rps_ratio (wall clock),
cpu_rps_ratio (requests per second of server CPU time, which other load on a shared
machine does not distort) and p99_ratio (each int8 / fp32, geometric mean over cells);
then, over all servers, errors_5xx, unexpected (responses whose status was not the
expected one), restarts, peak_rss_mib, pod_limit_mib, liveness_max_ms.

    .venv/bin/python bench/serving.py [--teacher-hidden 2048,2048] [--duration 2] [--rounds 3]
        [--concurrency 1,8,32] [--artifacts DIR]
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
sys.path.insert(0, str(ROOT / "bench"))
# Importing the compression bench sets the image paths; at module level so `--help` proves it (tests/bench).
from compression import build_artifacts  # noqa: E402
from compressor.reference import TEACHER_FLAGS, export_lm_shaped  # noqa: E402

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


REFERENCE_HIDDEN = TEACHER_FLAGS[TEACHER_FLAGS.index("--hidden") + 1]


@dataclass(frozen=True)
class Teacher:
    """One fp32 teacher and its compressed int8 model, as built and measured by bench/compression.py."""

    key: str  # "reference" or "serving"
    hidden: str  # "512,512"
    artifacts: Path

    def report(self) -> dict[str, Any]:
        stages = {r["name"]: r for r in json.loads((self.artifacts / "report.json").read_text())["stages"]}
        t, q = stages["teacher_fp32"], stages["final_int8"]
        return {
            "teacher_hidden": self.hidden,
            "teacher_params": t["params"],
            "teacher_mib": round(t["size_bytes"] / 2**20, 2),
            "teacher_accuracy": round(t["accuracy"], 4),
            "int8_accuracy": round(q["accuracy"], 4),
            # Model alone (compressor's timing, one ORT thread): what the server's ratio could at best approach.
            "model_speedup_b1": round(q["speedup_b1"], 2),
            "model_speedup_b64": round(q["speedup_b64"], 2),
            "teacher_b1_us": round(1e3 * t["latency_b1_ms"], 1),
            "int8_b1_us": round(1e3 * q["latency_b1_ms"], 1),
        }


def _widths(text: str) -> str:
    parts = text.split(",")
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of positive widths (2048,2048)")
    return ",".join(str(int(p)) for p in parts)


def build_teachers(args: argparse.Namespace, tmp: Path) -> list[Teacher]:
    """Train and compress each teacher under ``--artifacts`` (reused when already there) or a temp dir."""
    root = Path(args.artifacts) if args.artifacts else tmp
    wanted = [("reference", REFERENCE_HIDDEN)] + ([("serving", args.teacher_hidden)] if args.teacher_hidden else [])
    teachers = []
    for key, hidden in wanted:
        out = root / f"teacher-{hidden.replace(',', 'x')}"
        if not (out / "artifacts" / "report.json").exists():
            print(f"building the {key} teacher (hidden {hidden}) and its compressed model in {out}", flush=True)
            build_artifacts(out, hidden)
        teachers.append(Teacher(key, hidden, out / "artifacts"))
    return teachers


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--teacher-hidden",
        type=lambda v: "" if v in ("", "none") else _widths(v),
        default="2048,2048",
        help="hidden widths of the serving-scale teacher (default 2048,2048; 'none': the reference teacher only)",
    )
    p.add_argument(
        "--artifacts", help="build into DIR/teacher-<widths>/ and reuse what is already there (default: a temp dir)"
    )
    p.add_argument("--duration", type=float, default=2.0, help="seconds per cell and round (default 2)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best is kept per cell (default 3)")
    p.add_argument("--concurrency", default="1,8,32", help="comma-separated levels (default 1,8,32)")
    p.add_argument("--workers", type=int, default=1, help="server INFER_WORKERS (default 1: one ORT thread)")
    p.add_argument("--bad-every", type=int, default=10, help="every Nth request is a bad payload (default 10)")
    args = p.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    token = secrets.token_hex(32)
    with tempfile.TemporaryDirectory() as tmp:
        teachers = build_teachers(args, Path(tmp))
        infos = {t.key: t.report() for t in teachers}  # read now: a temp dir is gone after this block
        servers: dict[tuple[str, str], ServerProc] = {}
        try:
            for t in teachers:
                for label, fname in (("fp32", "teacher_fp32.onnx"), ("int8", "model.onnx")):
                    servers[t.key, label] = ServerProc(
                        t.artifacts / fname, "digits", token, INFER_WORKERS=str(args.workers)
                    )
            bad = bad_calls("digits", token)
            cells: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {k: {} for k in servers}
            for _ in range(args.rounds):
                for t in teachers:
                    for batch, binary in ((1, False), (64, True)):
                        good = good_call("digits", batch, binary, token)
                        for c in levels:
                            for label in ("fp32", "int8"):
                                server = servers[t.key, label]
                                cell = asyncio.run(
                                    run_cell(
                                        server.port, good, bad, c, args.duration, args.bad_every, server.cpu_seconds
                                    )
                                )
                                cells[t.key, label].setdefault(f"{good.name}@c{c}", []).append(cell)
            alive = {k: s.alive() for k, s in servers.items()}
            rss = {k: s.peak_rss_mib() for k, s in servers.items()}
        finally:
            for s in servers.values():
                s.stop()
        attack = lm_attack(Path(tmp), token)

    geo = lambda xs: math.exp(sum(map(math.log, xs)) / len(xs))  # noqa: E731
    errors_5xx, bad_total = 0, 0
    unexpected: list[str] = []
    summary: dict[str, Any] = {}
    for t in teachers:
        info = infos[t.key]
        print(
            f"\n{t.key} teacher: hidden {t.hidden}, {info['teacher_params']:,} parameters ({info['teacher_mib']} MiB), "
            f"test accuracy {100 * info['teacher_accuracy']:.2f}%; int8 model {100 * info['int8_accuracy']:.2f}%. "
            f"Model alone, batch 1: fp32 {info['teacher_b1_us']} us, int8 {info['int8_b1_us']} us "
            f"({info['model_speedup_b1']}x; batch 64: {info['model_speedup_b64']}x).\n"
        )
        print(
            "| workload | fp32 req/s | int8 req/s | ratio | fp32 req/cpu-s | int8 req/cpu-s | ratio | fp32 p50 ms "
            "| int8 p50 ms | fp32 p99 ms | int8 p99 ms | p99 ratio | bad payloads | 5xx |"
        )
        print("|" + "---|" * 14)
        rps_ratios, cpu_ratios, p99_ratios = [], [], []
        for name in cells[t.key, "fp32"]:
            best = {}
            for label in ("fp32", "int8"):
                rounds = cells[t.key, label][name]
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
            both = [r for label in ("fp32", "int8") for r in cells[t.key, label][name]]
            n5, nb = sum(r["errors_5xx"] for r in both), sum(r["bad"] for r in both)
            print(
                f"| {name} | {f['rps']:.0f} | {q['rps']:.0f} | {rps_ratios[-1]:.2f}x | {f['cpu_rps']:.0f} | "
                f"{q['cpu_rps']:.0f} | {cpu_ratios[-1]:.2f}x | {f['p50_ms']:.2f} | "
                f"{q['p50_ms']:.2f} | {f['p99_ms']:.2f} | {q['p99_ms']:.2f} | {p99_ratios[-1]:.2f} | {nb} | {n5} |"
            )
        summary[t.key] = {
            **{k: info[k] for k in ("teacher_hidden", "teacher_params", "teacher_accuracy", "int8_accuracy")},
            "rps_ratio": round(geo(rps_ratios), 4),
            "cpu_rps_ratio": round(geo(cpu_ratios), 4),
            "p99_ratio": round(geo(p99_ratios), 4),
        }
    unexpected += attack["unexpected"]
    restarts = sum(not a for a in alive.values()) + (not attack["alive"])
    peak = max([*rss.values(), attack["peak_rss_mib"]])
    print(
        f"\nPer teacher {len(levels) * 2} cells, best of {args.rounds} interleaved rounds of {args.duration:g} s, "
        f"server INFER_WORKERS={args.workers}, ORT 1 thread, bearer auth on; 1 request in {args.bad_every} is a bad "
        f"payload ({bad_total} sent, latencies are of good requests). Ratios are int8 / fp32 (rps > 1 and p99 < 1 "
        "favour int8); summary = geometric mean over cells."
    )
    rss_text = ", ".join(f"{key} {label} {v:.0f} MiB" for (key, label), v in rss.items())
    print(
        f"LM-shaped attack: {attack['requests']} requests, 16 concurrent; liveness worst "
        f"{attack['liveness_max_ms']:.1f} ms; peak RSS {rss_text}, LM {attack['peak_rss_mib']:.0f} MiB "
        f"(pod limit {POD_LIMIT_MIB} MiB)."
    )
    for u in sorted(set(unexpected)):
        print(f"UNEXPECTED {u}")
    summary.update(
        {
            "errors_5xx": errors_5xx,
            "unexpected": len(unexpected),
            "restarts": restarts,
            "peak_rss_mib": round(peak, 1),
            "pod_limit_mib": POD_LIMIT_MIB,
            "liveness_max_ms": round(attack["liveness_max_ms"], 1),
        }
    )
    print(json.dumps(summary))
    ok = errors_5xx == 0 and not unexpected and restarts == 0 and peak < POD_LIMIT_MIB
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

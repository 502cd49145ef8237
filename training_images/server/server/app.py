"""aiohttp application: Open Inference Protocol routes, JSON errors, readiness, metrics, graceful drain."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server import model as model_mod
from server import protocol
from server.batching import Batcher, QueueFullError
from server.metrics import Metrics

log = logging.getLogger("server")
SERVER_NAME = "ai-infra-onnx-server"
SERVER_VERSION = "1.0.0"


@dataclass(frozen=True)
class Settings:
    """Server settings, each from an env var (default in brackets)."""

    model_uri: str  # MODEL_URI: local path or s3://bucket/key [required]
    model_name: str = "model"  # MODEL_NAME
    host: str = "0.0.0.0"  # HOST
    port: int = 8080  # PORT; 0 picks a free port (printed at start)
    max_body_bytes: int = 8 * 1024 * 1024  # MAX_BODY_BYTES; larger bodies get 413
    max_request_batch: int = 1024  # MAX_REQUEST_BATCH; larger batch dimensions get 413
    max_batch: int = 0  # MAX_BATCH_SIZE; dynamic batching off when 0
    batch_timeout_ms: float = 2.0  # BATCH_TIMEOUT_MS; longest wait to fill a batch
    max_queue: int = 256  # MAX_QUEUE; requests waiting for a batch before 503
    workers: int = 0  # INFER_WORKERS; threads running ONNX Runtime, 0 = CPU count
    intra_op_threads: int = 1  # ORT_INTRA_OP_THREADS
    shutdown_timeout_s: float = 30.0  # SHUTDOWN_TIMEOUT_S; drain time for in-flight requests on SIGTERM

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        if not env.get("MODEL_URI"):
            raise ValueError("MODEL_URI: required; set it to a local .onnx path or s3://bucket/key")
        return cls(
            model_uri=env["MODEL_URI"],
            model_name=env.get("MODEL_NAME", "model"),
            host=env.get("HOST", "0.0.0.0"),
            port=int(env.get("PORT", "8080")),
            max_body_bytes=int(env.get("MAX_BODY_BYTES", str(8 * 1024 * 1024))),
            max_request_batch=int(env.get("MAX_REQUEST_BATCH", "1024")),
            max_batch=int(env.get("MAX_BATCH_SIZE", "0")),
            batch_timeout_ms=float(env.get("BATCH_TIMEOUT_MS", "2")),
            max_queue=int(env.get("MAX_QUEUE", "256")),
            workers=int(env.get("INFER_WORKERS", "0")),
            intra_op_threads=int(env.get("ORT_INTRA_OP_THREADS", "1")),
            shutdown_timeout_s=float(env.get("SHUTDOWN_TIMEOUT_S", "30")),
        )


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error leaves as ``{"error": ...}`` - aiohttp's own 404/405/413 included."""
    try:
        return await handler(request)
    except protocol.ProtocolError as exc:
        return _error(exc.status, str(exc))
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"request body exceeds {request.app[STATE].settings.max_body_bytes} bytes")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(exc.status, exc.reason)


class State:
    """Everything the handlers share: the model once loaded, metrics, executor, batcher."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.model: model_mod.Model | None = None
        self.load_error: str | None = None
        self.draining = False
        self.metrics = Metrics()
        self.executor = ThreadPoolExecutor(
            max_workers=settings.workers or os.cpu_count() or 1, thread_name_prefix="ort"
        )
        self.batcher: Batcher | None = None

    @property
    def ready(self) -> bool:
        return self.model is not None and not self.draining

    async def run_model(self, x: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        assert self.model is not None
        feeds = {self.model.inputs[0].name: x}
        return await asyncio.get_running_loop().run_in_executor(self.executor, self.model.run, feeds, outputs)


STATE: web.AppKey[State] = web.AppKey("state", State)


def _state(request: web.Request) -> State:
    return request.app[STATE]


def _model(request: web.Request) -> model_mod.Model:
    state = _state(request)
    name = request.match_info["name"]
    version = request.match_info.get("version")
    if state.model is None:
        raise protocol.ProtocolError(
            f"model '{name}' is not loaded yet", 503 if name == state.settings.model_name else 404
        )
    if name != state.model.name or (version is not None and version != state.model.version):
        raise protocol.ProtocolError(
            f"unknown model '{name}'"
            + (f" version '{version}'" if version else "")
            + f"; this server serves '{state.model.name}' version '{state.model.version}'",
            404,
        )
    return state.model


async def server_metadata(request: web.Request) -> web.Response:
    return web.json_response({"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": ["binary_tensor_data"]})


async def live(request: web.Request) -> web.Response:
    return web.json_response({"live": True})


async def ready(request: web.Request) -> web.Response:
    ok = _state(request).ready
    return web.json_response({"ready": ok}, status=200 if ok else 503)


async def model_metadata(request: web.Request) -> web.Response:
    return web.json_response(_model(request).metadata())


async def model_ready(request: web.Request) -> web.Response:
    _model(request)
    ok = _state(request).ready
    return web.json_response({"name": request.match_info["name"], "ready": ok}, status=200 if ok else 503)


async def infer(request: web.Request) -> web.Response:
    state = _state(request)
    name = request.match_info["name"]
    start = time.perf_counter()
    state.metrics.in_flight.inc()
    status = 500
    try:
        response = await _infer(request, state)
        status = response.status
        return response
    except protocol.ProtocolError as exc:
        status = exc.status
        raise
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        state.metrics.in_flight.dec()
        state.metrics.requests.labels(name, str(status)).inc()
        state.metrics.latency.labels(name).observe(time.perf_counter() - start)


async def _infer(request: web.Request, state: State) -> web.Response:
    model = _model(request)
    if state.draining:
        raise protocol.ProtocolError("server is shutting down", 503)
    body = await request.read()
    req = protocol.parse_infer(
        body, request.headers.get(protocol.HEADER_LENGTH), model, state.settings.max_request_batch
    )
    first = next(iter(req.inputs.values()))
    rows = int(first.shape[0]) if first.ndim else 1
    state.metrics.request_batch.labels(model.name).observe(rows)
    if state.batcher is not None and model.batchable:
        try:
            state.metrics.queue_depth.set(state.batcher.depth + 1)
            arrays = await state.batcher.submit(first, req.outputs)
        except QueueFullError as exc:
            return _error(503, str(exc))
        finally:
            state.metrics.queue_depth.set(state.batcher.depth)
    else:
        state.metrics.executed_batch.labels(model.name).observe(rows)
        arrays = await asyncio.get_running_loop().run_in_executor(state.executor, model.run, req.inputs, req.outputs)
    body_out, headers = protocol.encode_response(model, req, arrays)
    return web.Response(body=body_out, headers=headers)


async def metrics(request: web.Request) -> web.Response:
    state = _state(request)
    if state.batcher is not None:
        state.metrics.queue_depth.set(state.batcher.depth)
    return web.Response(body=generate_latest(state.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _load_model(app: web.Application) -> None:
    state = app[STATE]
    s = state.settings
    try:
        loaded = await asyncio.get_running_loop().run_in_executor(
            state.executor, model_mod.load, s.model_uri, s.model_name, s.intra_op_threads
        )
    except Exception as exc:  # reported on /v2/health/ready and in the log; liveness stays up
        state.load_error = f"{type(exc).__name__}: {exc}"
        log.error(json.dumps({"event": "model_load_failed", "uri": s.model_uri, "error": state.load_error}))
        return
    if s.max_batch > 0:
        state.batcher = Batcher(
            state.run_model,
            s.max_batch,
            s.batch_timeout_ms / 1e3,
            s.max_queue,
            on_batch=lambda n: state.metrics.executed_batch.labels(s.model_name).observe(n),
        )
        state.batcher.start()
    state.model = loaded
    state.metrics.ready.set(1)
    print(
        json.dumps(
            {
                "event": "model_ready",
                "model": s.model_name,
                "inputs": [t.as_v2() for t in loaded.inputs],
                "dynamic_batching": s.max_batch > 0,
            }
        ),
        flush=True,
    )


async def _on_startup(app: web.Application) -> None:
    # Loading runs in the background: liveness answers at once, readiness
    # only after the model is in memory.
    app["loader"] = asyncio.get_running_loop().create_task(_load_model(app))


async def _on_cleanup(app: web.Application) -> None:
    state = app[STATE]
    app["loader"].cancel()
    if state.batcher is not None:
        await state.batcher.stop()
    state.executor.shutdown(wait=True)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[json_errors], client_max_size=settings.max_body_bytes)
    app[STATE] = State(settings)
    r = app.router
    r.add_get("/v2", server_metadata)
    r.add_get("/v2/health/live", live)
    r.add_get("/v2/health/ready", ready)
    for prefix in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        r.add_get(prefix, model_metadata)
        r.add_get(prefix + "/ready", model_ready)
        r.add_post(prefix + "/infer", infer)
    r.add_get("/metrics", metrics)
    app.on_startup.append(_on_startup)
    app.on_cleanup.append(_on_cleanup)
    return app


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set, then stop accepting, drain in-flight requests and return."""
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, shutdown_timeout=settings.shutdown_timeout_s)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else settings.port  # the real port when PORT=0
    print(json.dumps({"event": "listening", "host": settings.host, "port": port}), flush=True)
    await stop.wait()
    app[STATE].draining = True  # readiness fails and new inference is refused while draining
    app[STATE].metrics.ready.set(0)
    print(json.dumps({"event": "draining"}), flush=True)
    await runner.cleanup()  # closes the listener, waits up to shutdown_timeout for handlers
    print(json.dumps({"event": "stopped"}), flush=True)

"""aiohttp application: Open Inference Protocol routes, JSON errors, readiness, metrics, auth, graceful drain."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from aiohttp import web
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server import model as model_mod
from server import protocol
from server.batching import Batcher, QueueFullError
from server.metrics import Metrics

log = logging.getLogger("server")
SERVER_NAME = "ai-infra-onnx-server"
SERVER_VERSION = "1.1.0"
MIN_TOKEN_CHARS = 16
# Routes Kubernetes probes call without credentials; every other route needs the token when one is set.
PUBLIC_ROUTES = frozenset({"/v2/health/live", "/v2/health/ready"})
T = TypeVar("T")


class SettingsError(ValueError):
    """A bad env var; the message names it, its value and what is allowed."""


def _number(env: dict[str, str], key: str, default: float, minimum: float, cast: type = int) -> Any:
    raw = env.get(key)
    if raw is None or raw == "":
        return cast(default)
    try:
        value = cast(raw)
    except ValueError:
        raise SettingsError(f"{key}: {raw!r} is not {'an integer' if cast is int else 'a number'}") from None
    if not value >= minimum:  # also refuses NaN
        raise SettingsError(f"{key}: {raw!r} is below the minimum {cast(minimum)}")
    return value


def _token(env: dict[str, str]) -> str:
    """The bearer token from AUTH_TOKEN_FILE (a mounted Secret) or AUTH_TOKEN; empty = auth off."""
    path = env.get("AUTH_TOKEN_FILE", "")
    if path:
        try:
            token = Path(path).read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"AUTH_TOKEN_FILE: cannot read {path!r}: {exc}") from None
        where = "AUTH_TOKEN_FILE"
    else:
        token, where = env.get("AUTH_TOKEN", "").strip(), "AUTH_TOKEN"
    if (path or env.get("AUTH_TOKEN")) and len(token) < MIN_TOKEN_CHARS:
        raise SettingsError(
            f"{where}: the token has {len(token)} characters; use at least {MIN_TOKEN_CHARS} "
            "(for example `openssl rand -hex 32`)"
        )
    return token


@dataclass(frozen=True)
class Settings:
    """Server settings, each from an env var (default in brackets)."""

    model_uri: str  # MODEL_URI: local path or s3://bucket/key [required]
    model_name: str = "model"  # MODEL_NAME
    host: str = "0.0.0.0"  # HOST
    port: int = 8080  # PORT; 0 picks a free port (printed at start)
    max_body_bytes: int = 8 * 1024 * 1024  # MAX_BODY_BYTES; larger bodies get 413
    max_request_batch: int = 1024  # MAX_REQUEST_BATCH; larger batch dimensions get 413
    max_dynamic_dim: int = 4096  # MAX_DYNAMIC_DIM; a larger non-batch dynamic axis (sequence) gets 413
    max_dynamic_elements: int = 65536  # MAX_DYNAMIC_ELEMENTS; product of an input's dynamic axes, else 413
    max_response_bytes: int = 32 * 1024 * 1024  # MAX_RESPONSE_BYTES; larger responses are refused with 413
    body_timeout_s: float = 15.0  # BODY_READ_TIMEOUT_S; a body not received within this gets 408
    auth_token: str = ""  # AUTH_TOKEN_FILE (a mounted Secret) or AUTH_TOKEN; empty = no auth
    max_batch: int = 0  # MAX_BATCH_SIZE; dynamic batching off when 0
    batch_timeout_ms: float = 2.0  # BATCH_TIMEOUT_MS; longest wait to fill a batch
    max_queue: int = 256  # MAX_QUEUE; requests waiting for a batch before 503
    workers: int = 0  # INFER_WORKERS; threads running ONNX Runtime, 0 = CPU count
    intra_op_threads: int = 1  # ORT_INTRA_OP_THREADS
    inline_codec_bytes: int = 64 * 1024  # INLINE_CODEC_BYTES; larger bodies are parsed/encoded off the loop
    inline_infer_us: float = 100.0  # INLINE_INFER_US; calls predicted faster than this run on the loop
    shutdown_timeout_s: float = 30.0  # SHUTDOWN_TIMEOUT_S; drain time for in-flight requests on SIGTERM

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        if not env.get("MODEL_URI"):
            raise SettingsError("MODEL_URI: required; set it to a local .onnx path or s3://bucket/key")
        return cls(
            model_uri=env["MODEL_URI"],
            model_name=env.get("MODEL_NAME", "model"),
            host=env.get("HOST", "0.0.0.0"),
            port=_number(env, "PORT", 8080, 0),
            max_body_bytes=_number(env, "MAX_BODY_BYTES", 8 * 1024 * 1024, 1024),
            max_request_batch=_number(env, "MAX_REQUEST_BATCH", 1024, 1),
            max_dynamic_dim=_number(env, "MAX_DYNAMIC_DIM", 4096, 1),
            max_dynamic_elements=_number(env, "MAX_DYNAMIC_ELEMENTS", 65536, 1),
            max_response_bytes=_number(env, "MAX_RESPONSE_BYTES", 32 * 1024 * 1024, 1024),
            body_timeout_s=_number(env, "BODY_READ_TIMEOUT_S", 15.0, 0.001, float),
            auth_token=_token(env),
            max_batch=_number(env, "MAX_BATCH_SIZE", 0, 0),
            batch_timeout_ms=_number(env, "BATCH_TIMEOUT_MS", 2.0, 0.0, float),
            max_queue=_number(env, "MAX_QUEUE", 256, 1),
            workers=_number(env, "INFER_WORKERS", 0, 0),
            intra_op_threads=_number(env, "ORT_INTRA_OP_THREADS", 1, 0),
            inline_codec_bytes=_number(env, "INLINE_CODEC_BYTES", 64 * 1024, 0),
            inline_infer_us=_number(env, "INLINE_INFER_US", 100.0, 0.0, float),
            shutdown_timeout_s=_number(env, "SHUTDOWN_TIMEOUT_S", 30.0, 0.0, float),
        )

    @property
    def limits(self) -> protocol.Limits:
        return protocol.Limits(
            self.max_request_batch, self.max_dynamic_dim, self.max_dynamic_elements, self.max_response_bytes
        )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _route(request: web.Request) -> str:
    """The route template ("/v2/models/{name}/infer"), never the raw path: metric labels stay bounded."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error leaves as ``{"error": ...}`` - aiohttp's own 404/405/413 included - and is counted."""
    state = request.app[STATE]
    status = 500
    route = _route(request)
    try:
        if state.settings.auth_token and route not in PUBLIC_ROUTES:
            _authorize(request, state.settings.auth_token)
        response = await handler(request)
        status = response.status
        return response
    except protocol.ProtocolError as exc:
        status = exc.status
        return _error(exc.status, str(exc), exc.headers if isinstance(exc, AuthError) else None)
    except web.HTTPRequestEntityTooLarge:
        status = 413
        return _error(413, f"request body exceeds {state.settings.max_body_bytes} bytes (MAX_BODY_BYTES)")
    except web.HTTPException as exc:
        status = exc.status
        if exc.status < 400:
            raise
        return _error(exc.status, exc.reason)
    finally:
        state.metrics.http_requests.labels(route, request.method, str(status)).inc()


class AuthError(protocol.ProtocolError):
    def __init__(self, message: str):
        super().__init__(message, 401)
        self.headers = {"WWW-Authenticate": 'Bearer realm="inference"'}


def _authorize(request: web.Request, token: str) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise AuthError("missing bearer token: send 'Authorization: Bearer <token>'")
    # Constant-time: the comparison's duration does not tell how much of the token matched.
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise AuthError("invalid bearer token")


class State:
    """Everything the handlers share: the model once loaded, metrics, executors, batcher."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.limits = settings.limits
        self.model: model_mod.Model | None = None
        self.load_error: str | None = None
        self.draining = False
        self.metrics = Metrics()
        self.infer = self.metrics.for_model(settings.model_name)
        self.executor = ThreadPoolExecutor(
            max_workers=settings.workers or os.cpu_count() or 1, thread_name_prefix="ort"
        )
        # Parsing and encoding large bodies: their own threads, so they never queue behind model runs.
        self.codec = ThreadPoolExecutor(max_workers=2, thread_name_prefix="codec")
        self.batcher: Batcher | None = None

    @property
    def ready(self) -> bool:
        return self.model is not None and not self.draining

    async def run_model(self, x: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        """The batcher's runner: one merged batch of the single input."""
        assert self.model is not None
        spec = self.model.inputs[0]
        dynamic = int(np.prod([d for d, e in zip(x.shape, spec.shape, strict=True) if e == -1]))
        return await self.run(self.model, {spec.name: x}, outputs, dynamic)

    async def run(
        self, model: model_mod.Model, feeds: dict[str, np.ndarray], outputs: list[str], dynamic: int
    ) -> list[np.ndarray]:
        """Run the model: on the loop when it is predicted cheaper than a thread hand-off, else in the executor."""
        predicted = model.predict_run_s(dynamic)
        if predicted is not None and predicted * 1e6 <= self.settings.inline_infer_us:
            return _model_run(model, feeds, outputs)
        return await asyncio.get_running_loop().run_in_executor(self.executor, _model_run, model, feeds, outputs)

    async def codec_call(self, size: int, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` inline for small bodies (sub-millisecond), in the codec threads for large ones."""
        if size <= self.settings.inline_codec_bytes:
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(self.codec, fn, *args)


def _model_run(model: model_mod.Model, feeds: dict[str, np.ndarray], outputs: list[str]) -> list[np.ndarray]:
    try:
        return model.run(feeds, outputs)
    except InvalidArgument as exc:  # e.g. a token id outside the embedding table: the input's fault
        raise protocol.ProtocolError(f"the model rejected the input: {exc}") from None


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
            f"unknown model '{name[:100]}'"
            + (f" version '{version[:100]}'" if version else "")
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
    model = _model(request)
    ok = _state(request).ready
    return web.json_response({"name": model.name, "ready": ok}, status=200 if ok else 503)


async def infer(request: web.Request) -> web.Response:
    state = _state(request)
    model = _model(request)  # an unknown name is refused here, before it could become a metric label
    start = time.perf_counter()
    m = state.infer
    m.in_flight.inc()
    status = 500
    try:
        response = await _infer(request, state, model)
        status = response.status
        return response
    except protocol.ProtocolError as exc:
        status = exc.status
        raise
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        m.in_flight.dec()
        m.requests(status).inc()
        m.latency.observe(time.perf_counter() - start)


async def _read_body(request: web.Request, state: State) -> bytes:
    length = request.content_length
    if length is not None and request.content.total_bytes >= length:
        return await request.read()  # already received with the headers (small bodies): no timer needed
    try:
        async with asyncio.timeout(state.settings.body_timeout_s):
            return await request.read()
    except TimeoutError:
        raise protocol.ProtocolError(
            f"request body not received within {state.settings.body_timeout_s:g} s (BODY_READ_TIMEOUT_S)", 408
        ) from None


async def _infer(request: web.Request, state: State, model: model_mod.Model) -> web.Response:
    if state.draining:
        raise protocol.ProtocolError("server is shutting down", 503)
    body = await _read_body(request, state)
    req = await state.codec_call(
        len(body), protocol.parse_infer, body, request.headers.get(protocol.HEADER_LENGTH), model, state.limits
    )
    first = next(iter(req.inputs.values()))
    rows = int(first.shape[0]) if first.ndim else 1
    m = state.infer
    m.request_batch.observe(rows)
    if state.batcher is not None and model.batchable:
        try:
            arrays = await state.batcher.submit(first, req.outputs)
        except QueueFullError as exc:
            return _error(503, str(exc))
    else:
        m.executed_batch.observe(rows)
        arrays = await state.run(model, req.inputs, req.outputs, req.dynamic_elements)
    protocol.check_response_size(req, arrays, state.limits)
    out_size = sum(a.nbytes for a in arrays)
    body_out, headers = await state.codec_call(out_size, protocol.encode_response, model, req, arrays)
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
            on_batch=state.infer.executed_batch.observe,
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
                "auth": bool(s.auth_token),
                "cost_us": None if loaded.cost is None else [round(c * 1e6, 2) for c in loaded.cost],
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
    state.codec.shutdown(wait=True)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[json_errors], client_max_size=settings.max_body_bytes)
    app[STATE] = State(settings)
    r = app.router
    prefixes = ("/v2/models/{name}", "/v2/models/{name}/versions/{version}")
    for prefix in prefixes:  # inference first: the router tries patterns in order, so /infer matches at once
        r.add_post(prefix + "/infer", infer)
    r.add_get("/v2", server_metadata)
    r.add_get("/v2/health/live", live)
    r.add_get("/v2/health/ready", ready)
    for prefix in prefixes:
        r.add_get(prefix, model_metadata)
        r.add_get(prefix + "/ready", model_ready)
    r.add_get("/metrics", metrics)
    app.on_startup.append(_on_startup)
    app.on_cleanup.append(_on_cleanup)
    return app


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set, then stop accepting, drain in-flight requests and return."""
    app = create_app(settings)
    # Idle keep-alive connections are closed after 75 s (aiohttp's default keeps them an hour).
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=75)
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

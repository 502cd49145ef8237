"""Runs the real Pulumi program under the mock engine, as the language host would, and captures it.

No cloud, no credentials, no Pulumi CLI. The stock mock engine differs from the real one
in ways that matter to a plan; this runner closes each gap:

- URNs: the engine qualifies a child's type with its parents' full type chain and leaves
  the root stack out of it; the stock mock uses only the direct parent and keeps the stack.
- It records no parent, dependencies, provider or options: `PlanMonitor` reads them from
  each register request.
- Stack transforms (our cost tags) are run by the engine, not the SDK; the stock mock
  drops them. `PlanMonitor` applies them to the inputs, as the engine does.
- `pulumi.export` only reaches the monitor when the program runs through `run_in_stack`.
- Settings, the root stack and config leak between runs: each run configures fresh
  settings, clears the root, sets the config and uses a new event loop.
- `Config()` defaults to project 'project' unless the project name is set; `PULUMI_CONFIG*`
  environment variables leak into config: both are handled here.
- Invoke answers use camelCase wire names (see `mocks.py`).

It also skips SDK work a plan does not need, each shortcut giving the SDK's own result
(bench/plan_scale.py; tests/aiinfra/offline/test_runner_shortcuts.py): no stack walk per
resource, one future per output property, inputs deserialized once, plain mock answers put
straight into the response, no gRPC callback server, type metadata remembered, option
objects copied directly, and the imported SDKs frozen out of full garbage collections.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import gc
import logging
import os
import runpy
import sys
import threading
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import struct_pb2
from pulumi import _types as sdk_types
from pulumi.output import Unknown, _OutputData
from pulumi.resource_hooks import ResourceHookBinding
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc, settings
from pulumi.runtime._callbacks import _CallbackServicer
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2, source_pb2
from pulumi.runtime.settings import ROOT, configure
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from aiinfra.offline.mocks import PlanMocks
from aiinfra.offline.project import StackConfig
from aiinfra.problems import Problem, ProblemsError, problems_of

STACK_TYPE = "pulumi:pulumi:Stack"
_SECRET_SIG = rpc._special_secret_sig


class PlanError(ProblemsError):
    """The program failed: a config error or a program error (exit 2, clean message).

    A config error keeps its structured problems across the engine boundary: the program
    raises a `ProblemsError` (or a `pulumi.RunError` carrying or chained to one), and
    `items` holds its problems. A program error is one problem with an empty path.
    """

    def __init__(self, problems: str | Problem | Iterable[Problem | str], program_error: bool = False,
                 title: str | None = None) -> None:
        self.title = title  # the heading the program's own error had ("invalid stack configuration")
        super().__init__([problems] if isinstance(problems, (str, Problem)) else problems)
        self.program_error = program_error


@dataclass
class PlannedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: str | None
    protect: bool
    retain_on_delete: bool
    provider: str | None
    dependencies: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn, "type": self.type, "name": self.name, "parent": self.parent,
            "custom": self.custom, "inputs": self.inputs, "protect": self.protect,
            "retain_on_delete": self.retain_on_delete, "provider": self.provider,
            "dependencies": self.dependencies,
        }


@dataclass
class Plan:
    project: str
    stack: str
    resources: list[PlannedResource] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    """The stack config the program ran with (full keys, decoded)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "stack": self.stack,
            "resources": [r.to_json() for r in self.resources],
            "exports": self.exports,
        }

    def by_type(self, token: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == token]


def engine_urn(stack: str, project: str, parent_urn: str, type_: str, name: str) -> str:
    """The URN the Pulumi engine gives a resource (full parent type chain, root stack omitted)."""
    qualified = type_
    if parent_urn:
        parent_qualified = parent_urn.split("::")[2]
        if parent_qualified != STACK_TYPE:
            qualified = f"{parent_qualified}${type_}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def _plain(value: Any) -> Any:
    """Inputs as JSON: secrets masked, unknowns named, resource references as URNs."""
    kind = type(value)  # the common exact types first (str enums and other subclasses take the checks below)
    if kind is str or kind is bool or kind is int or value is None:
        return value
    if kind is float:
        return int(value) if value.is_integer() else value  # protobuf Structs carry every number as a double
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == _SECRET_SIG:
            return "[secret]"
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, pulumi.Resource):
        return getattr(value, "_name", str(value))
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf Structs carry every number as a double
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Unknown) or str(value) == rpc.UNKNOWN:
        return "[unknown]"  # an Unknown printed as '<pulumi.output.Unknown object at 0x...>' before
    return str(value)


class PlanMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, with engine URNs, recorded options, and stack transforms applied."""

    def __init__(self, mocks: pulumi.runtime.Mocks, project: str, stack: str) -> None:
        super().__init__(mocks)
        self.project = project
        self.stack = stack
        self.captured: list[PlannedResource] = []
        self.exports: dict[str, Any] = {}
        self._stack_urn = engine_urn(stack, project, "", STACK_TYPE, f"{project}-{stack}")
        self._thread_loops: set[asyncio.AbstractEventLoop] = set()

    def _thread_loop(self) -> None:
        """The calling thread's event loop (deserializing resource references needs one), kept to close."""
        self._thread_loops.add(pulumi_mocks._ensure_event_loop())

    def close_thread_loops(self) -> None:
        """Close the event loops the monitor's threads made: the plan's executor threads end with
        it, and a loop left open is otherwise closed by the garbage collector, at exit if need be,
        after its self-pipe socket may already have gone ('Invalid file descriptor: -1')."""
        for loop in list(self._thread_loops):  # a copy: list() of a set does not give up the GIL midway
            if not loop.is_running() and not loop.is_closed():
                loop.close()
        self._thread_loops.clear()

    def Invoke(self, request: Any) -> Any:  # noqa: N802
        self._thread_loop()
        return super().Invoke(request)

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        return engine_urn(self.stack, self.project, parent, type_, name)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        """Register one resource: its inputs deserialized once, transformed, answered by the mocks.

        The stock `MockMonitor.RegisterResource` deserializes the request's inputs itself, so a
        transformed request had to be copied and its changed keys serialized back into it, and
        every input was deserialized twice. Here the mocks get the same inputs without either:
        the unchanged keys as deserialized once, the keys a transform changed as they read back
        from the wire (`_wire_roundtrip`): what the stock monitor read from the rewritten request
        (bench/plan_scale.py's plans are identical, inputs, outputs and ids, for every stack).
        """
        urn = self.make_urn(request.parent, request.type, request.name)
        outputs: dict[str, Any] = {}
        rid = None
        if request.type == STACK_TYPE:
            inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
            captured = _plain(inputs)
            response = resource_pb2.RegisterResourceResponse(urn=urn)
        else:
            _freeze_imported_once()
            self._thread_loop()
            inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
            # Outside a preview the stock monitor reads unknowns as absent: read them its way there.
            wire = inputs if settings.is_dry_run() else rpc.deserialize_properties(request.object)
            transformed = self._transform(request, inputs)
            if transformed is not inputs:
                wire = _mock_inputs(wire, inputs, transformed)
                inputs = transformed
            captured = _plain(inputs)  # before the mocks run: what they do cannot alter what was asked
            rid, state = self.mocks.new_resource(pulumi_mocks.MockResourceArgs(
                typ=request.type, name=request.name, inputs=wire, provider=request.provider,
                resource_id=request.importId, custom=request.custom or False,
                transforms=pulumi_mocks._resolve_callbacks(request.transforms)))
            # As the stock monitor: a mock may answer no id (None: unset on the wire).
            self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, rid, state)  # type: ignore[arg-type]
            response = resource_pb2.RegisterResourceResponse(urn=urn, id=rid, object=_serialize(state))  # type: ignore[arg-type]
            _remember_read_back(response.object, state)
            outputs = dict(state)
        self.captured.append(PlannedResource(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=bool(request.custom),
            inputs=captured,
            outputs=_plain(outputs),
            id=rid,
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            provider=request.provider or None,
            dependencies=sorted(set(request.dependencies)),
        ))
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        if request.urn == self._stack_urn:
            self._thread_loop()
            self.exports = _plain(rpc.deserialize_properties(request.outputs, keep_unknowns=True))
        return super().RegisterResourceOutputs(request)

    def _transform(self, request: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        """Run the resource's own transforms, then the stack's, as the engine does."""
        fns = pulumi_mocks._resolve_callbacks(request.transforms) + list(self._stack_transforms)
        if not fns or request.type == STACK_TYPE:
            return inputs
        props = inputs
        for fn in fns:
            args = pulumi.ResourceTransformArgs(custom=bool(request.custom), type_=request.type,
                                                name=request.name, props=props, opts=pulumi.ResourceOptions())
            result = fn(args)
            if asyncio.iscoroutine(result):
                result = _sync_await(result)
            if result is not None:
                props = dict(result.props)
        return props


_FROZEN = threading.Event()


def _freeze_imported_once() -> None:
    """Move what the process holds when its first program registers its first resource out of
    the garbage collector's reach (`gc.freeze`), once per process.

    By then the program has imported what it needs: the provider SDKs are about 300,000 tracked
    objects (pulumi_aws alone most of them) that live as long as the process. A plan allocates
    enough Outputs, futures and dicts to set off a full collection every plan or two (prod: one
    per plan), and each walked all of them again: about 150-250 ms, as much CPU as the rest of a
    prod plan. Frozen, a full collection walks only what plans made. Garbage the process held at
    that moment is never collected (import leftovers and the first resources' cycles, kilobytes).
    """
    if not _FROZEN.is_set():
        _FROZEN.set()
        gc.freeze()


def _mock_inputs(wire: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The inputs the stock mock monitor would read from a transformed request.

    It would see the request's inputs with the keys the transform dropped removed and the keys
    it changed serialized back in: unchanged keys read as they were, changed keys read back
    from the wire (numbers as floats, None dropped). Only the changed keys are round-tripped.
    A key a transform sets to None is dropped, as the engine drops it (the old request rewrite
    left its previous value in place; no transform of ours does this).
    """
    changed = {k: v for k, v in after.items() if k not in before or before[k] is not v}
    out = {k: v for k, v in wire.items() if k in after and k not in changed}
    out.update(_wire_roundtrip(changed))
    return out


def _wire_roundtrip(values: dict[str, Any]) -> dict[str, Any]:
    """`values` serialized as the SDK sends them and read back as the mock monitor reads them.

    Plain JSON values (the tag transform's tags) are read back directly (`_read_back`), without
    building a Struct and walking it: the same values; a nested dict's keys keep the transform's
    order rather than the protobuf map's (only the mocks see these; the plan's inputs and exports
    are the same, order included).
    """
    if not values:
        return {}
    try:
        return _read_back(values)  # type: ignore[no-any-return]
    except _NotPlainError:
        return rpc.deserialize_properties(_serialize(values))  # type: ignore[no-any-return]


def _serialize(values: dict[str, Any]) -> Any:
    """`rpc.serialize_properties(values)`, run to completion without an event loop when it can.

    Plain JSON values (nearly all of what the mocks and transforms hand back) go straight into
    the Struct. Other plain values never make the serializer wait, so its coroutine finishes
    on the first step; `_sync_await` would instead run an event loop
    iteration on the monitor's thread for every resource (and give up the GIL to poll it).
    When it does wait (an Output in the values), it is run again on the loop.
    """
    if all(_is_json(v) for v in values.values()):
        # JSON values serialize to themselves (the SDK's serializer rebuilds each dict and list
        # as it was, through one coroutine per value): straight into the Struct, with the
        # serializer's one rule for them, that a top-level None is left out.
        struct = struct_pb2.Struct()
        for key, value in values.items():
            if value is not None:
                struct[key] = value
        return struct
    coro = rpc.serialize_properties(values, {})
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    return _sync_await(rpc.serialize_properties(values, {}))


_JSON_SCALARS = (str, bool, int, float, type(None))


def _is_json(value: Any) -> bool:
    """Whether a value is plain JSON: dicts with str keys, lists, str, bool, int, float, None,
    by exact type (no str enums, tuples, Unknowns, resources, assets or Outputs)."""
    kind = type(value)
    if kind in _JSON_SCALARS:
        return True
    if kind is dict:
        return all(type(k) is str and _is_json(v) for k, v in value.items())
    if kind is list:
        return all(_is_json(v) for v in value)
    return False


class _NotPlainError(Exception):
    """A value `_read_back` cannot give as the SDK would read it back (not plain JSON, or special)."""


def _read_back(value: Any) -> Any:
    """A plain JSON value as `rpc.deserialize_properties` reads it back from the Struct it serializes to.

    Numbers come back as floats (a Struct holds doubles; `float()` rounds a large int as the
    conversion to double does), a None in a dict is left out (the SDK drops a key whose value reads
    back as None), a None in a list stays, bools stay bools. A string that is the unknown sentinel
    or a dict with the special signature key (secrets, assets, resource references) is read back
    as something else: `_NotPlainError`, and the SDK reads that Struct itself.
    """
    kind = type(value)
    if kind is str:
        if value == rpc.UNKNOWN:
            raise _NotPlainError
        return value
    if kind is bool or value is None:
        return value
    if kind is int or kind is float:
        return float(value)
    if kind is dict:
        if rpc._special_sig_key in value:
            raise _NotPlainError
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlainError
            read = _read_back(item)
            if read is not None:
                out[key] = read
        return out
    if kind is list:
        return [_read_back(item) for item in value]
    raise _NotPlainError


_SDK_DESERIALIZE_PROPERTIES = rpc.deserialize_properties
_READ_BACK_OUTPUTS = True
"""Whether a plan hands the SDK its registrations' outputs without their wire round trip (tests turn it off)."""
_READ_BACK: dict[int, tuple[Any, Any]] = {}
"""id(response Struct) -> (that Struct, what the SDK reads back from it), while a plan runs."""


def _remember_read_back(struct: Any, state: dict[str, Any]) -> None:
    """On the monitor's thread: what the SDK will read back from a registration's output Struct."""
    if rpc.deserialize_properties is not _deserialize_read_back:
        return
    try:
        read = _read_back(state)
    except _NotPlainError:
        return
    _READ_BACK[id(struct)] = (struct, read)  # holds the Struct, so its id is not reused meanwhile


def _deserialize_read_back(props_struct: Any, keep_unknowns: bool | None = None,
                           keep_internal: bool | None = True) -> Any:
    """`rpc.deserialize_properties`, answered from `_READ_BACK` for a registration's output Struct.

    The SDK reads each registration's outputs back from the Struct the monitor answered, a walk
    through every value of it (the inputs a preview echoes, typed, nested); the monitor built that
    Struct from a plain dict, so what it reads back is known before it asks (`_read_back`). Each
    answer is used once (the SDK reads an output Struct once); anything else goes to the SDK.
    """
    entry = _READ_BACK.pop(id(props_struct), None)
    if entry is not None and entry[0] is props_struct and keep_internal is not False:
        return entry[1]
    return _SDK_DESERIALIZE_PROPERTIES(props_struct, keep_unknowns, keep_internal)


@contextlib.contextmanager
def _rpc_swapped(name: str, ours: Any, enabled: bool = True) -> Iterator[None]:
    """`rpc.<name>` is `ours` while a plan runs, the SDK's own restored afterwards (`enabled=False`, the
    tests' switch, leaves the SDK's in place)."""
    if not enabled:
        yield
        return
    saved = getattr(rpc, name)
    setattr(rpc, name, ours)
    try:
        yield
    finally:
        setattr(rpc, name, saved)


@contextlib.contextmanager
def _outputs_read_back() -> Iterator[None]:
    """Registration outputs handed back without their wire round trip while a plan runs (the SDK's
    function restored and the answers dropped afterwards)."""
    try:
        with _rpc_swapped("deserialize_properties", _deserialize_read_back, _READ_BACK_OUTPUTS):
            yield
    finally:
        _READ_BACK.clear()


class _OfflineCallbacks(_CallbackServicer):
    """The SDK's callback registry (transforms), without the gRPC server it starts per program.

    A program that registers a transform (ours: the cost tags) makes the SDK create a callback
    servicer: a grpc.aio server bound to a local port, started and stopped once per plan, so
    the engine can call the transform back. The mock monitor never calls it over the network:
    it looks the transform up in-process (`mocks._resolve_callbacks`). This registry keeps the
    SDK's token bookkeeping and skips the server (about 4 ms of every plan's CPU, and its threads).
    """

    def __init__(self, monitor: PlanMonitor, loop: asyncio.AbstractEventLoop) -> None:
        # _CallbackServicer.__init__ builds and binds the server; set its fields without it.
        self._callbacks = {}
        self._transforms = {}
        self._state_migrations = {}
        self._monitor = monitor  # type: ignore[assignment]  # it takes RegisterStackTransform like the stub
        self._loop = loop
        self._server = _NoServer()  # type: ignore[assignment]
        self._target = "offline"
        _CallbackServicer._servicers.append(self)

    def release(self) -> None:
        """Forget it (the SDK's shutdown does so too, unless the program failed before it ran)."""
        with contextlib.suppress(ValueError):
            _CallbackServicer._servicers.remove(self)


class _NoServer:
    async def start(self) -> None:
        return None

    async def stop(self, grace: float | None = None) -> None:
        return None


def _no_position(stack: source_pb2.StackTrace) -> source_pb2.SourcePosition | None:
    return None


@contextlib.contextmanager
def _no_source_positions() -> Iterator[None]:
    """Skip the SDK's per-resource stack walk while a plan runs.

    For every resource the SDK walks the whole Python stack (`traceback.extract_stack`, which
    also reads each frame's source line) to send the engine a stack trace and source position.
    The real engine shows them in diagnostics; the mock monitor drops them unread. The walk
    was about a fifth of a dev plan's CPU time (bench/plan_scale.py --profile), so the runner
    sends empty ones. Restored afterwards: nothing outside a plan sees the change.
    """
    saved = sdk_resource._get_stack_trace, sdk_resource._get_source_position
    sdk_resource._get_stack_trace = source_pb2.StackTrace
    sdk_resource._get_source_position = _no_position
    try:
        yield
    finally:
        sdk_resource._get_stack_trace, sdk_resource._get_source_position = saved


def _transfer_properties(res: pulumi.Resource, props: Any, custom: bool) -> dict[str, Any]:
    """`rpc.transfer_properties` with one future per output property instead of four and a task.

    The SDK gives every property a resource class declares (set or not: a launch template
    declares about forty) an Output built from four futures (value, known, secret, deps) and a
    task that awaits them in turn and packs them into one `_OutputData`. The SDK's newer Outputs
    are one future of `_OutputData` (`Output._from_data`); this builds those directly, and the
    resolver sets that future with the same `_OutputData` the task would have built. Same
    values, resources and known/secret flags, failures raised the same way; no task, no three
    extra futures, no three extra wake-ups per property.
    """
    resolvers: dict[str, Any] = {}
    for name in props:
        if name == "urn" or (name == "id" and custom):
            continue  # the SDK resolves these itself
        data: asyncio.Future[Any] = asyncio.Future()
        resolvers[name] = functools.partial(_resolve_output, res, data)
        # `Output._from_data` less its `_track()`: the SDK tracks every Output so that the program
        # waits for it at exit, but these resolve inside their resource's registration, an RPC the
        # program already waits for (and whose failure it raises first).
        output: pulumi.Output[Any] = object.__new__(pulumi.Output)
        output._data = data
        res.__dict__[name] = output
    return resolvers


def _resolve_output(res: pulumi.Resource, data: asyncio.Future[Any], value: Any, is_known: bool, is_secret: bool,
                    deps: set[pulumi.Resource] | None, failed: Exception | None) -> None:
    resources = set(deps) if deps else set()
    resources.add(res)
    if failed is not None:
        data.set_exception(failed)
    else:
        data.set_result(_OutputData(resources=resources, value=value, is_known=is_known, is_secret=is_secret))


_REMEMBERED_MAX = 20_000  # entries per function; the six stacks' plans use about 1,700 annotation objects

# The SDK's type-metadata functions a plan calls over and over with the same few objects. Each
# depends on its argument alone (a class's or annotation's declared names and types, read from
# the class as imported), and every caller only reads what it returns.
_TYPE_METADATA = (
    "unwrap_type",  # Optional[Input[T]] to T: every typed input property serialized (~660 per dev plan)
    "unwrap_optional_type",  # Optional[T] to T: every typed output property translated (~450)
    "resource_types",  # a resource class's output property types: every registration's outputs
    "resource_pulumi_to_py_names",  # a resource class's wire to Python names: the same
    "resource_py_to_pulumi_names",
    "input_type_py_to_pulumi_names",  # an args class's Python to wire names: every typed input dict
    "input_type_types",
    "output_type_types",  # an output class's property types: every typed output dict
)
_SDK_TYPE_METADATA = {name: getattr(sdk_types, name) for name in _TYPE_METADATA}


def _remembered(sdk_fn: Any) -> Any:
    """`sdk_fn` remembered per argument object, by identity (equal unions can list their members
    in another order, so equality is not enough), bounded."""
    memo: dict[int, tuple[Any, Any]] = {}

    def remembered(val: Any) -> Any:
        hit = memo.get(id(val))
        if hit is not None and hit[0] is val:
            return hit[1]
        result = sdk_fn(val)
        if len(memo) >= _REMEMBERED_MAX:
            memo.clear()  # a few annotations are built afresh per plan: keep a long process bounded
        memo[id(val)] = (val, result)  # keeps val alive, so its id is not reused
        return result

    remembered.__wrapped__ = sdk_fn  # type: ignore[attr-defined]
    return remembered


_REMEMBERED_TYPE_METADATA = {name: _remembered(fn) for name, fn in _SDK_TYPE_METADATA.items()}


@contextlib.contextmanager
def _cached_type_metadata() -> Iterator[None]:
    """The SDK's type-metadata functions remembered while a plan runs (its own restored afterwards).

    The SDK serializes every input property of a provider resource with its annotated type and
    translates every output property back with the resource class's types and names; each time
    it unwraps annotations (through several `typing.get_origin`/`get_args` calls) and rebuilds
    the class's name and type maps from its annotations and properties (`get_type_hints` on
    a class built for the purpose). Those depend on the class or annotation alone, so each is
    worked out once per object. About 2 ms of a 50 ms dev plan (bench/plan_scale.py).
    """
    for name in _TYPE_METADATA:
        setattr(sdk_types, name, _REMEMBERED_TYPE_METADATA[name])
    try:
        yield
    finally:
        for name in _TYPE_METADATA:
            setattr(sdk_types, name, _SDK_TYPE_METADATA[name])


# Option classes the SDK copies with `copy.copy` in every option merge (two resource-option and
# two hook-binding copies per merge, one merge per provider resource) and once more per
# registration. They are plain classes (attributes in `__dict__`; no `__new__`, `__copy__`,
# `__reduce__`, `__getstate__`, `__setstate__` or slots), so `copy.copy` amounts to a new instance
# with the same `__dict__`, made here without its pickling-protocol round trip.
_PLAIN_COPIES: tuple[type, ...] = (pulumi.ResourceOptions, ResourceHookBinding)
_SDK_COPIES = {cls: cls.__dict__["_copy"] for cls in _PLAIN_COPIES}


def _plain_copy(self: Any) -> Any:
    """What `copy.copy(self)` gives a plain instance; a subclass (which may copy otherwise) gets `copy.copy`,
    as the SDK's own `_copy` gives it."""
    cls = type(self)
    if cls not in _SDK_COPIES:
        return copy.copy(self)
    out = object.__new__(cls)
    out.__dict__.update(self.__dict__)
    return out


@contextlib.contextmanager
def _plain_option_copies() -> Iterator[None]:
    """Option copies made directly while a plan runs (the SDK's `_copy` restored afterwards).

    `copy.copy` goes through `__reduce_ex__` and `copyreg` for each of the ~240 option copies of
    a dev plan (about 2 µs each; a direct copy takes under 1 µs): about 0.3 ms of a 50 ms plan.
    """
    for cls in _PLAIN_COPIES:
        cls._copy = _plain_copy  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for cls in _PLAIN_COPIES:
            cls._copy = _SDK_COPIES[cls]  # type: ignore[attr-defined]


_SDK_SERIALIZE_PROPERTIES = rpc.serialize_properties
_LEAVE_OUT_UNSET = True
"""Whether a plan hands `rpc.serialize_properties` only the inputs that are set (tests turn it off)."""


def _serialize_set_properties(inputs: Any, property_deps: dict[str, list[Any]], *args: Any, **kwargs: Any) -> Any:
    """`rpc.serialize_properties` of the inputs less the top-level ones that are None.

    A provider resource hands the SDK every input property its class declares, set or not, and
    every output property as None too: 483 of a dev plan's 656 top-level inputs are None. The SDK
    serializes each through a coroutine of a dozen type checks to get None back, and leaves the key
    out of the struct and of the property dependencies ("properties that serialize to None [are
    treated] as if they don't exist"). Leaving them out first gives the same struct, the same
    dependencies and the same key order. Only an exact dict is filtered (the SDK reads a subclass
    by key, in case it redefines `items`); the SDK's coroutine is returned, not wrapped in another.
    """
    if type(inputs) is dict:
        for value in inputs.values():
            if value is None:
                inputs = {k: v for k, v in inputs.items() if v is not None}
                break
    return _SDK_SERIALIZE_PROPERTIES(inputs, property_deps, *args, **kwargs)


_SDK_SERIALIZE_PROPERTY = rpc.serialize_property
_SCALARS_DIRECTLY = True
"""Whether a plan serializes plain str/bool/int/float inputs without the SDK's checks (tests turn it off)."""


async def _itself(value: Any) -> Any:
    return value


def _serialize_property(value: Any, deps: Any, property_key: Any, *args: Any, **kwargs: Any) -> Any:
    """`rpc.serialize_property`, a plain scalar answered directly.

    The SDK runs every input value through a dozen checks (sequence, unknown, resource, asset,
    archive, awaitable, Output, input type, mapping, protobuf Value) before it returns a str, bool,
    int or float as it is: about two thirds of the values a dev plan serializes. An exact str, bool,
    int or float is returned as it is here (str enums and other subclasses, and the SDK's protobuf
    Value mode, go to the SDK). A coroutine either way, as the callers await it.
    """
    kind = type(value)
    if (kind is str or kind is bool or kind is int or kind is float) and not kwargs.get("return_protobuf_value") \
            and (len(args) < 6 or not args[5]):  # args[5]: return_protobuf_value passed by position
        return _itself(value)
    return _SDK_SERIALIZE_PROPERTY(value, deps, property_key, *args, **kwargs)


@contextlib.contextmanager
def _program_environment(cfg: StackConfig) -> Iterator[None]:
    """cwd and sys.path as the language host sets them; no PULUMI_CONFIG* leaking in."""
    saved_env = {k: v for k, v in os.environ.items() if k.startswith("PULUMI_CONFIG")}
    for key in saved_env:
        del os.environ[key]
    saved_cwd = os.getcwd()
    saved_path = list(sys.path)
    os.chdir(cfg.project_dir)
    sys.path.insert(0, str(cfg.project_dir))
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        os.environ.update(saved_env)


def run_plan(cfg: StackConfig, preview: bool = True, mocks: pulumi.runtime.Mocks | None = None) -> Plan:
    """Run the stack's program under the mock engine and return everything it registered."""
    region = str(cfg.values.get("aws:region") or cfg.values.get("gcp:region") or "us-east-1")
    gcp_project = str(cfg.values.get("gcp:project") or "ai-infra-offline")
    monitor = PlanMonitor(mocks or PlanMocks(region=region, gcp_project=gcp_project), cfg.project, cfg.stack)
    program_error: BaseException | None = None

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    callbacks = _OfflineCallbacks(monitor, loop)
    try:
        with _program_environment(cfg), _no_source_positions(), _cached_type_metadata(), _plain_option_copies(), \
                _rpc_swapped("transfer_properties", _transfer_properties), \
                _rpc_swapped("serialize_properties", _serialize_set_properties, _LEAVE_OUT_UNSET), \
                _rpc_swapped("serialize_property", _serialize_property, _SCALARS_DIRECTLY), _outputs_read_back():
            _configure(monitor, cfg, preview, callbacks)

            def program() -> None:
                runpy.run_path(str(cfg.main), run_name="__main__")

            try:
                loop.run_until_complete(run_in_stack(program))
            except pulumi.RunError as exc:
                program_error = exc
            except Exception as exc:
                program_error = exc
    finally:
        callbacks.release()
        ROOT.set(None)
        if program_error is not None:
            # A failed program can leave monitor calls running on the executor's threads (an invoke
            # nobody awaited); wait for them, as `loop.close()` does not, so that none still adds a
            # thread loop while they are closed.
            loop.run_until_complete(loop.shutdown_default_executor())
        asyncio.set_event_loop(None)
        loop.close()  # shuts its executor (the monitor's threads) down
        monitor.close_thread_loops()

    if program_error is not None:
        found = carried_problems(program_error)
        if found:
            raise PlanError(found, title=_title(program_error))
    if isinstance(program_error, pulumi.RunError):
        raise PlanError(str(program_error))
    if program_error is not None:
        where = traceback.extract_tb(program_error.__traceback__)
        ours = [f for f in where if str(cfg.project_dir) in f.filename and "site-packages" not in f.filename]
        frame = ours[-1] if ours else (where[-1] if where else None)
        at = f" (at {os.path.relpath(frame.filename, cfg.project_dir)}:{frame.lineno})" if frame else ""
        lines = str(program_error).strip().splitlines() or [""]
        # The SDK chains one line per enclosing resource; the first and last say what broke.
        detail = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
        raise PlanError(f"program error: {type(program_error).__name__}: {detail}{at}",
                        program_error=True) from program_error

    return Plan(project=cfg.project, stack=cfg.stack, resources=monitor.captured, exports=monitor.exports,
                config=dict(cfg.values))


def carried_problems(exc: BaseException) -> list[Problem]:
    """The structured problems an exception carries, itself or along its cause/context chain
    (`raise pulumi.RunError(...) from None` still keeps the ConfigError as its context)."""
    seen: set[int] = set()
    here: BaseException | None = exc
    while here is not None and id(here) not in seen:
        found = problems_of(here)
        if found:
            return found
        seen.add(id(here))
        here = here.__cause__ or here.__context__
    return []


def _title(exc: BaseException) -> str | None:
    here: BaseException | None = exc
    for _ in range(16):
        if here is None:
            break
        if isinstance(here, ProblemsError) and here.title:
            return here.title
        here = here.__cause__ or here.__context__
    return None


def _configure(monitor: PlanMonitor, cfg: StackConfig, preview: bool, callbacks: _OfflineCallbacks) -> None:
    features = set(monitor.GetDeploymentInfo(None).supportedFeatures)
    settings = pulumi_mocks.MockSettings(
        monitor=monitor,
        monitor_features=features,
        engine=pulumi_mocks.MockEngine(logging.getLogger("aiinfra.offline")),
        project=cfg.project,
        stack=cfg.stack,
        dry_run=preview,
        organization="organization",
        callbacks=callbacks,
        root_directory=str(cfg.project_dir),
    )
    configure(settings)
    ROOT.set(None)
    set_all_config(cfg.wire_config(), list(cfg.secret_keys))

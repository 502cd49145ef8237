"""Run the CrossGuard pack in `policies/` exactly as the Pulumi CLI does, over its gRPC analyzer protocol.

The CLI starts `python -u -m pulumi.policy <engine-address> <pack-dir>` in the pack dir with
PULUMI_PROJECT, PULUMI_STACK, PULUMI_CONFIG and PULUMI_DRY_RUN set, reads the port it
prints, asks GetAnalyzerInfo, maps `--policy-pack-config` onto every policy (the `all` key,
enforcement levels, schema defaults, schema errors), calls Configure, then Analyze per
resource and AnalyzeStack once. `aiinfra plan` and the tests use this same path, so the
verdict a pull request sees is the CLI's. The engine address is served by a small fake
engine that accepts Log calls.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import jsonschema
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2_grpc

from aiinfra.catalog import closest
from aiinfra.costs.model import UNKNOWN, CostResource

# The engine marshals a value unknown at preview as this sentinel string (pulumi/sdk plugin.UnknownStringValue).
UNKNOWN_WIRE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
LEVELS = ("advisory", "mandatory", "remediate", "disabled")
_LEVEL_TO_PROTO = {"advisory": analyzer_pb2.ADVISORY, "mandatory": analyzer_pb2.MANDATORY,
                   "remediate": analyzer_pb2.REMEDIATE, "disabled": analyzer_pb2.DISABLED}
_PROTO_TO_LEVEL = {v: k for k, v in _LEVEL_TO_PROTO.items()}
_START_TIMEOUT_S = 60


class PolicyPackError(Exception):
    """The pack could not be run or its config is invalid (exit 2, clean message)."""


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    urn: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"policy": self.policy, "level": self.level, "urn": self.urn, "message": self.message}


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    level: str
    schema: Mapping[str, Any]
    required: tuple[str, ...]


@dataclass
class PackResult:
    violations: list[Violation] = field(default_factory=list)
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What each policy was configured with: {"enforcementLevel", "properties"}."""

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level in ("mandatory", "remediate")]


# ----------------------------------------------------------------------------------------
# --policy-pack-config, mapped the way the CLI maps it
# ----------------------------------------------------------------------------------------


_MAX_CONFIG_BYTES = 1 << 20


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number; limits must be finite")


def load_policy_config_file(path: Path) -> dict[str, Any]:
    """A `--policy-pack-config` file: a JSON object of finite numbers, or a clean PolicyPackError (exit 2)."""
    try:
        if path.stat().st_size > _MAX_CONFIG_BYTES:
            raise PolicyPackError(f"policy pack config {path}: larger than {_MAX_CONFIG_BYTES} bytes")
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise PolicyPackError(f"policy pack config {path} does not exist") from None
    except IsADirectoryError:
        raise PolicyPackError(f"policy pack config {path} is a directory; pass a JSON file") from None
    except UnicodeDecodeError:
        raise PolicyPackError(f"policy pack config {path}: not UTF-8 text (expected a JSON file)") from None
    except OSError as exc:
        raise PolicyPackError(f"policy pack config {path}: cannot be read ({exc.strerror})") from None
    try:
        # NaN and Infinity are not JSON; Python's parser accepts them, and a NaN limit passes every comparison.
        doc = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise PolicyPackError(f"policy pack config {path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except ValueError as exc:
        raise PolicyPackError(f"policy pack config {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise PolicyPackError(f"policy pack config {path}: expected an object of policy names")
    return doc


def _split(name: str, value: Any, where: str) -> tuple[str | None, dict[str, Any]]:
    """A config entry: a bare enforcement level, or an object with `enforcementLevel` and properties."""
    level: str | None
    props: dict[str, Any]
    if isinstance(value, str):
        level, props = value, {}
    elif isinstance(value, dict):
        props = {k: v for k, v in value.items() if k != "enforcementLevel"}
        level = value.get("enforcementLevel")
    else:
        raise PolicyPackError(f"{where}: {name}: expected an enforcement level or an object, got {value!r}")
    if level is not None and level not in LEVELS:
        raise PolicyPackError(f"{where}: {name}: enforcementLevel {level!r} is not one of {', '.join(LEVELS)}")
    return level, props


def reconcile_config(policies: Sequence[PolicyInfo], file_config: Mapping[str, Any],
                     where: str = "policy pack config") -> dict[str, dict[str, Any]]:
    """Each policy's enforcement level and properties: policy default, then `all`, then its own entry;
    schema defaults fill missing properties; properties are validated against the policy's schema."""
    names = [p.name for p in policies]
    problems: list[str] = []
    for key in file_config:
        if key != "all" and key not in names:
            best = closest(key, names)
            hint = f"; did you mean {best[0]!r}?" if best else ""
            problems.append(f"{where}: {key!r} is not a policy in the pack{hint}")
    all_level, all_props = _split("all", file_config["all"], where) if "all" in file_config else (None, {})
    out: dict[str, dict[str, Any]] = {}
    for p in policies:
        level = p.level
        props: dict[str, Any] = {}
        if all_level:
            level = all_level
        props.update(all_props)
        if p.name in file_config:
            own_level, own_props = _split(p.name, file_config[p.name], where)
            level = own_level or level
            props.update(own_props)
        for key, schema in p.schema.items():
            if key not in props and isinstance(schema, Mapping) and "default" in schema:
                props[key] = schema["default"]
        if p.schema or p.required:
            validator = jsonschema.Draft7Validator({"type": "object", "properties": dict(p.schema),
                                                    "required": list(p.required)})
            for err in sorted(validator.iter_errors(props), key=lambda e: list(e.path)):
                at = ".".join(str(x) for x in err.path)
                problems.append(f"{where}: {p.name}{'.' + at if at else ''}: {err.message}")
        out[p.name] = {"enforcementLevel": level, "properties": props}
    if problems:
        raise PolicyPackError("\n".join(problems))
    return out


# ----------------------------------------------------------------------------------------
# The fake engine and the pack process
# ----------------------------------------------------------------------------------------


class _Engine(engine_pb2_grpc.EngineServicer):
    """Accepts the pack's Log calls (the CLI's engine prints them; we keep them for errors)."""

    def __init__(self) -> None:
        self.logs: list[str] = []

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:  # noqa: N802 (gRPC method)
        self.logs.append(request.message)
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:  # noqa: N802
        from pulumi.runtime.proto import engine_pb2

        return engine_pb2.GetRootResourceResponse(urn="")

    def SetRootResource(self, request: Any, context: Any) -> Any:  # noqa: N802
        from pulumi.runtime.proto import engine_pb2

        return engine_pb2.SetRootResourceResponse()


def _wire(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    if value == UNKNOWN:
        return UNKNOWN_WIRE
    return value


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(_wire(dict(props)))
    return s


@dataclass(frozen=True)
class PackResource:
    """A resource as the engine hands it to an analyzer."""

    urn: str
    type: str
    name: str
    properties: Mapping[str, Any]
    parent: str | None = None
    dependencies: tuple[str, ...] = ()
    protect: bool = False


def pack_resources(resources: Iterable[Any]) -> list[PackResource]:
    """Planned resources (aiinfra.offline) as analyzer resources; the root stack is not analyzed."""
    out = []
    for r in resources:
        if r.type == "pulumi:pulumi:Stack":
            continue
        parent = r.parent if r.parent and "pulumi:pulumi:Stack" not in r.parent else None
        out.append(PackResource(r.urn, r.type, r.name, r.inputs, parent, tuple(r.dependencies), bool(r.protect)))
    return out


def to_cost_resources(resources: Iterable[Any]) -> list[CostResource]:
    return [CostResource(r.urn, r.type, r.name, r.inputs, r.parent) for r in resources]


def run_policy_pack(pack_dir: Path, resources: Sequence[PackResource], *, project: str, stack: str,
                    config: Mapping[str, Any], policy_config: Mapping[str, Any] | None = None,
                    config_where: str = "policy pack config", dry_run: bool = True,
                    python: str = sys.executable) -> PackResult:
    """Start the pack, configure it and analyze the resources; returns every diagnostic."""
    engine = _Engine()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    engine_pb2_grpc.add_EngineServicer_to_server(engine, server)
    engine_port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    env.update({
        "PULUMI_PROJECT": project, "PULUMI_STACK": stack, "PULUMI_DRY_RUN": "true" if dry_run else "false",
        "PULUMI_CONFIG": json.dumps({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}),
        "PYTHONUNBUFFERED": "1",
    })
    # stderr goes to a file: a chatty pack must not block on a full pipe nobody reads.
    errors = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        [python, "-u", "-m", "pulumi.policy", f"127.0.0.1:{engine_port}", str(pack_dir)],
        cwd=str(pack_dir), env=env, stdout=subprocess.PIPE, stderr=errors, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            proc.kill()
            proc.wait(timeout=10)
            errors.seek(0)
            err = errors.read()
            logs = "\n".join(engine.logs)
            raise PolicyPackError(f"policy pack {pack_dir} did not start: {(err or logs or line).strip()[-2000:]}")
        channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(channel).result(timeout=_START_TIMEOUT_S)
        stub = analyzer_pb2_grpc.AnalyzerStub(channel)
        try:
            return _analyze(stub, resources, policy_config or {}, config_where)
        except grpc.RpcError as exc:
            # The pack refused its config (a budget rule lowered) or a rule crashed: the CLI stops there too.
            detail = exc.details() if hasattr(exc, "details") else str(exc)
            raise PolicyPackError(f"{config_where}: {detail}") from None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        errors.close()
        server.stop(0)


def _analyze(stub: Any, resources: Sequence[PackResource], policy_config: Mapping[str, Any],
             where: str) -> PackResult:
    info = stub.GetAnalyzerInfo(empty_pb2.Empty())
    policies = [PolicyInfo(p.name, _PROTO_TO_LEVEL.get(p.enforcementLevel, "advisory"),
                           json_format.MessageToDict(p.configSchema.properties),
                           tuple(p.configSchema.required)) for p in info.policies]
    reconciled = reconcile_config(policies, policy_config, where)
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, cfg in reconciled.items():
        pc = analyzer_pb2.PolicyConfig(enforcementLevel=_LEVEL_TO_PROTO[cfg["enforcementLevel"]])
        pc.properties.update(cfg["properties"])
        request.policyConfig[name].CopyFrom(pc)
    stub.Configure(request)

    diagnostics = []
    for r in resources:
        opts = analyzer_pb2.AnalyzerResourceOptions(protect=r.protect, parent=r.parent or "")
        resp = stub.Analyze(analyzer_pb2.AnalyzeRequest(type=r.type, properties=_struct(r.properties), urn=r.urn,
                                                         name=r.name, options=opts))
        diagnostics.extend(resp.diagnostics)
    stack_req = analyzer_pb2.AnalyzeStackRequest(resources=[
        analyzer_pb2.AnalyzerResource(
            type=r.type, properties=_struct(r.properties), urn=r.urn, name=r.name,
            options=analyzer_pb2.AnalyzerResourceOptions(protect=r.protect, parent=r.parent or ""),
            parent=r.parent or "", dependencies=list(r.dependencies))
        for r in resources
    ])
    diagnostics.extend(stub.AnalyzeStack(stack_req).diagnostics)
    violations = [Violation(d.policyName, _PROTO_TO_LEVEL.get(d.enforcementLevel, "advisory"), d.urn,
                            _strip_description(d.message, d.description)) for d in diagnostics]
    return PackResult(violations=violations, config=reconciled)


def _strip_description(message: str, description: str) -> str:
    """The SDK prefixes every message with the policy description and a newline; keep the finding."""
    if description and message.startswith(description + "\n"):
        return message[len(description) + 1:]
    return message

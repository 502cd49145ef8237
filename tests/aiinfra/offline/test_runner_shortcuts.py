"""The offline runner's shortcuts past SDK work (bench/plan_scale.py) give what the SDK's own path gives."""

from __future__ import annotations

import asyncio
import copy
import enum
import gc
import textwrap
from pathlib import Path
from typing import Any

import grpc
import pulumi
import pytest
from pulumi import _types as sdk_types
from pulumi.output import Unknown, _OutputData
from pulumi.runtime import rpc
from pulumi.runtime._callbacks import _CallbackServicer
from pulumi.runtime.sync_await import _sync_await

from aiinfra.offline import StackConfig, load_stack_config, run_plan, runner
from aiinfra.offline.mocks import PlanMocks
from aiinfra.offline.runner import _is_json, _serialize


class _Colour(enum.StrEnum):
    RED = "red"


@pytest.mark.parametrize("values", [
    {"a": "x", "n": 1, "f": 1.5, "b": True, "none": None, "empty": {}, "list": [],
     "nested": {"k": [1, None, {"deep": False, "gone": None}], "s": "t"}},
    {"unknown": Unknown(), "plain": "x"},
    {"enum": _Colour.RED, "tuple": ("a", 1)},
])
def test_serialize_gives_the_sdks_struct(values: dict[str, Any]) -> None:
    ours = _serialize(values)
    sdk = _sync_await(rpc.serialize_properties(values, {}))
    assert ours == sdk
    assert list(ours.keys()) == list(sdk.keys())  # same fields in the same order, top-level None left out


def test_only_exact_json_types_take_the_direct_path() -> None:
    assert _is_json({"a": [1, 2.0, True, None, {"b": "c"}]})
    assert not _is_json({"a": _Colour.RED})
    assert not _is_json(["a", ("b",)])
    assert not _is_json({1: "int key"})
    assert not _is_json(Unknown())


def _project(tmp_path: Path, program: str) -> StackConfig:
    (tmp_path / "Pulumi.yaml").write_text("name: tiny\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(textwrap.dedent(program))
    return StackConfig(project="tiny", stack="s1", project_dir=tmp_path, main=tmp_path / "__main__.py", values={})


class _Recording(PlanMocks):
    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, dict[str, Any]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.seen[args.name] = dict(args.inputs)
        return super().new_resource(args)


def test_transformed_keys_reach_the_mocks_as_the_wire_carries_them(tmp_path: Path) -> None:
    cfg = _project(tmp_path, """
        import pulumi
        def add(args):
            props = {k: v for k, v in args.props.items() if k != "dropped"}
            return pulumi.ResourceTransformResult(props={**props, "count": 3, "meta": {"n": None, "k": "v"}},
                                                  opts=args.opts)
        pulumi.runtime.register_resource_transform(add)
        pulumi.CustomResource("bench:index:Thing", "t", {"kept": "x", "dropped": "y"})
    """)
    mocks = _Recording()
    plan = run_plan(cfg, mocks=mocks)
    seen = mocks.seen["t"]
    assert seen == {"kept": "x", "count": 3.0, "meta": {"k": "v"}}  # numbers as floats, None dropped
    assert type(seen["count"]) is float
    thing = next(r for r in plan.resources if r.name == "t")
    assert thing.inputs == {"kept": "x", "count": 3, "meta": {"n": None, "k": "v"}}  # what the transform asked


def test_outputs_carry_values_dependencies_and_secrets_between_resources(tmp_path: Path) -> None:
    cfg = _project(tmp_path, """
        import pulumi
        a = pulumi.CustomResource("bench:index:A", "a", {"name": "alpha", "token": pulumi.Output.secret("s3cr3t"),
                                                        "later": None})
        b = pulumi.CustomResource("bench:index:B", "b", {
            "from_a": a.name.apply(lambda n: n + "-b"),
            "secret_from_a": a.token,
            "unknown_in_preview": a.later.apply(lambda v: "ran"),
        })
        pulumi.export("name", a.name)
    """)
    plan = run_plan(cfg)
    a = next(r for r in plan.resources if r.name == "a")
    b = next(r for r in plan.resources if r.name == "b")
    assert b.inputs["from_a"] == "alpha-b"
    assert b.inputs["secret_from_a"] == "[secret]"
    assert b.inputs["unknown_in_preview"] != "ran"  # a None output is unknown in a preview: the apply waits
    assert a.urn in b.dependencies
    assert plan.exports["name"] == "alpha"


def test_a_failed_registration_fails_the_outputs_that_wait_on_it(tmp_path: Path) -> None:
    cfg = _project(tmp_path, """
        import pulumi
        a = pulumi.CustomResource("bench:index:Broken", "a", {"x": "y"})
        pulumi.CustomResource("bench:index:B", "b", {"x": a.x})
    """)

    class Failing(PlanMocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            if args.typ == "bench:index:Broken":
                raise RuntimeError("provider said no")
            return super().new_resource(args)

    with pytest.raises(Exception, match="provider said no"):
        run_plan(cfg, mocks=Failing())


def test_transforms_need_no_callback_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_server(*_: Any, **__: Any) -> None:
        raise AssertionError("the offline plan started a gRPC server")

    monkeypatch.setattr(grpc.aio, "server", no_server)
    cfg = _project(tmp_path, """
        import pulumi
        pulumi.runtime.register_resource_transform(
            lambda args: pulumi.ResourceTransformResult(props={**args.props, "tagged": True}, opts=args.opts))
        pulumi.CustomResource("bench:index:Thing", "t", {"x": "y"})
    """)
    thing = next(r for r in run_plan(cfg).resources if r.name == "t")
    assert thing.inputs["tagged"] is True
    assert not _CallbackServicer._servicers  # the registry is gone with the plan


def test_the_imported_sdks_are_frozen_once_a_program_registers_a_resource(tmp_path: Path) -> None:
    run_plan(_project(tmp_path, """
        import pulumi
        pulumi.CustomResource("bench:index:Thing", "t", {"x": "y"})
    """))
    assert gc.get_freeze_count() > 0


def _everything(plan: Any) -> list[Any]:
    """Each resource's inputs, options, dependencies, outputs and id (by URN: the monitor's threads
    can register concurrent resources in either order), and the exports."""
    rows = sorted(([r.urn, r.to_json(), r.outputs, r.id] for r in plan.resources), key=lambda row: row[0])
    return [*rows, plan.exports]


@pytest.mark.parametrize("stack", ["dev", "gcp-dev"])
def test_remembered_type_metadata_gives_the_sdks_plan(stack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_stack_config(Path(__file__).resolve().parents[3], stack)
    remembered = _everything(run_plan(cfg))
    monkeypatch.setattr(runner, "_TYPE_METADATA", ())  # the SDK's own functions, worked out afresh each call
    assert _everything(run_plan(cfg)) == remembered


@pytest.mark.parametrize("stack", ["dev", "gcp-dev"])
def test_direct_option_copies_give_the_sdks_plan(stack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_stack_config(Path(__file__).resolve().parents[3], stack)
    direct = _everything(run_plan(cfg))
    monkeypatch.setattr(runner, "_PLAIN_COPIES", ())  # the SDK's own `_copy` (copy.copy) throughout
    assert _everything(run_plan(cfg)) == direct


@pytest.mark.parametrize("cls", runner._PLAIN_COPIES)
def test_copied_option_classes_are_plain(cls: type) -> None:
    """The direct copy is `copy.copy` only for classes that leave copying to `object`."""
    protocol = {"__new__", "__copy__", "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__slots__"}
    assert all(not protocol & set(vars(base)) for base in cls.__mro__ if base is not object)
    original = cls()
    original.extra = ["kept by reference"]  # type: ignore[attr-defined]
    direct, sdk = runner._plain_copy(original), copy.copy(original)
    assert type(direct) is cls and direct is not original
    assert vars(direct) == vars(sdk) == vars(original)
    assert direct.extra is original.extra  # type: ignore[attr-defined]  # shallow, as copy.copy
    direct.parent = "changed"  # type: ignore[attr-defined]
    assert getattr(original, "parent", None) != "changed"


def test_a_subclass_of_the_options_is_copied_its_own_way() -> None:
    class Counted(pulumi.ResourceOptions):
        copies = 0

        def __copy__(self) -> Counted:
            Counted.copies += 1
            out = Counted.__new__(Counted)
            out.__dict__.update(self.__dict__)
            return out

    assert isinstance(runner._plain_copy(Counted(version="1")), Counted)
    assert Counted.copies == 1


def _seen_while_a_plan_runs(tmp_path: Path, look: Any, program: str = """
    import pulumi
    pulumi.CustomResource("bench:index:Thing", "t", {"x": "y"})
""") -> tuple[list[Any], Any]:
    """What `look()` returns while the mocks answer each registration of a tiny program, and its plan."""
    seen: list[Any] = []

    class Looking(PlanMocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            seen.append(look())
            return super().new_resource(args)

    return seen, run_plan(_project(tmp_path, program), mocks=Looking())


def test_options_are_copied_directly_only_while_a_plan_runs(tmp_path: Path) -> None:
    seen, _ = _seen_while_a_plan_runs(tmp_path, lambda: [cls._copy for cls in runner._PLAIN_COPIES])
    assert seen == [[runner._plain_copy] * len(runner._PLAIN_COPIES)]
    assert all(cls._copy is fn for cls, fn in runner._SDK_COPIES.items())  # type: ignore[attr-defined]


def test_type_metadata_is_remembered_only_while_a_plan_runs(tmp_path: Path) -> None:
    seen, _ = _seen_while_a_plan_runs(tmp_path, lambda: [getattr(sdk_types, n) for n in runner._TYPE_METADATA])
    assert seen == [[runner._REMEMBERED_TYPE_METADATA[name] for name in runner._TYPE_METADATA]]
    assert all(getattr(sdk_types, name) is fn for name, fn in runner._SDK_TYPE_METADATA.items())


def test_remembered_by_identity_not_equality() -> None:
    calls: list[Any] = []
    remembered = runner._remembered(lambda val: calls.append(val) or len(calls))
    hint = dict[str, int]
    assert remembered(hint) == remembered(hint) == 1  # the same object: worked out once
    assert remembered([1]) == 2
    assert remembered([1]) == 3  # an equal but other object: worked out afresh
    assert calls[0] is hint


@pytest.mark.parametrize("stack", ["dev", "gcp-dev"])
def test_unset_inputs_left_out_give_the_sdks_plan(stack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_stack_config(Path(__file__).resolve().parents[3], stack)
    left_out = _everything(run_plan(cfg))
    monkeypatch.setattr(runner, "_LEAVE_OUT_UNSET", False)  # the SDK serializes every None itself
    assert _everything(run_plan(cfg)) == left_out



def test_unset_inputs_left_out_give_the_sdks_struct_and_dependencies() -> None:
    upstream: Any = object()  # stands for the resource an Output comes from

    async def serialize_both() -> list[Any]:
        data: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        data.set_result(_OutputData(resources={upstream}, value="v", is_known=True, is_secret=False))
        ref: pulumi.Output[str] = object.__new__(pulumi.Output)
        ref._data = data
        values = {"first": None, "ref": ref, "mid": None, "plain": "x", "nested": {"k": None, "n": 1}, "last": None}
        results = []
        for fn in (runner._serialize_set_properties, runner._SDK_SERIALIZE_PROPERTIES):
            deps: dict[str, list[Any]] = {}
            struct = await fn(values, deps)
            results.append((sorted(struct.keys()), struct, deps))  # a protobuf map keeps no order
        assert list(values) == ["first", "ref", "mid", "plain", "nested", "last"]  # the caller's dict untouched
        return results

    ours, sdk = asyncio.run(serialize_both())
    assert ours == sdk
    assert ours[0] == ["nested", "plain", "ref"] and ours[2]["ref"] == [upstream]


def test_unset_inputs_are_left_out_only_while_a_plan_runs(tmp_path: Path) -> None:
    seen, _ = _seen_while_a_plan_runs(tmp_path, lambda: rpc.serialize_properties, """
        import pulumi
        pulumi.CustomResource("bench:index:Thing", "t", {"x": "y", "unset": None})
    """)
    assert seen == [runner._serialize_set_properties]
    assert rpc.serialize_properties is runner._SDK_SERIALIZE_PROPERTIES


@pytest.mark.parametrize("stack", ["dev", "gcp-dev", "staging", "prod", "gcp-prod"])
def test_outputs_read_back_give_the_sdks_plan(stack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_stack_config(Path(__file__).resolve().parents[3], stack)
    read_back = _everything(run_plan(cfg))
    monkeypatch.setattr(runner, "_READ_BACK_OUTPUTS", False)  # the SDK reads every output Struct itself
    assert _everything(run_plan(cfg)) == read_back


@pytest.mark.parametrize("state", [
    {"s": "x", "i": 3, "big": 2**60 + 1, "f": 1.5, "t": True, "n": None, "empty": {}, "nothing": [],
     "nested": {"k": [1, None, {"deep": False, "gone": None}], "s": "t", "gone": None}, "list": [None, "a", 2]},
    {"__internal": "kept", "unicode": "ü"},
])
def test_read_back_is_what_the_sdk_reads_from_the_struct(state: dict[str, Any]) -> None:
    sdk = rpc.deserialize_properties(_serialize(state))
    ours = runner._read_back(state)
    assert ours == sdk

    def kinds(value: Any) -> Any:  # floats stay floats, bools bools (1.0 == True would hide it)
        if isinstance(value, dict):
            return {k: kinds(v) for k, v in value.items()}
        if isinstance(value, list):
            return [kinds(v) for v in value]
        return (type(value).__name__, value)

    assert kinds(ours) == kinds(sdk)
    # Key order is the mock's, not the protobuf map's (a map keeps none); the stacks' plans are the
    # same either way, exports included (test above).


@pytest.mark.parametrize("state", [
    {"u": rpc.UNKNOWN}, {"nested": [{"x": rpc.UNKNOWN}]},
    {"secret": {rpc._special_sig_key: rpc._special_secret_sig, "value": "v"}},
    {"enum": _Colour.RED}, {"tuple": ("a",)},
])
def test_values_read_back_otherwise_are_left_to_the_sdk(state: dict[str, Any]) -> None:
    with pytest.raises(runner._NotPlainError):
        runner._read_back(state)


def test_outputs_are_read_back_only_while_a_plan_runs(tmp_path: Path) -> None:
    seen, plan = _seen_while_a_plan_runs(tmp_path, lambda: rpc.deserialize_properties, """
        import pulumi
        t = pulumi.CustomResource("bench:index:Thing", "t", {"x": "y", "n": 2})
        pulumi.export("n", t.n)
        pulumi.export("x", t.x)
    """)
    assert seen == [runner._deserialize_read_back]
    assert rpc.deserialize_properties is runner._SDK_DESERIALIZE_PROPERTIES and not runner._READ_BACK
    assert plan.exports == {"n": 2, "x": "y"}


@pytest.mark.parametrize("values", [
    {"tags": {"Name": "x", "team": "t", "n": 3, "gone": None}, "count": 3, "list": [1, None, {"a": None}]},
    {"tagSpecifications": [{"resourceType": "instance", "tags": {"a": "b"}}], "flag": False},
    {"u": rpc.UNKNOWN, "plain": "x"},  # read back through the SDK: the sentinel becomes Unknown
    {"secret": {rpc._special_sig_key: rpc._special_secret_sig, "value": "v"}},
])
def test_wire_roundtrip_is_the_sdks(values: dict[str, Any]) -> None:
    def kinds(value: Any) -> Any:  # Unknowns compare by identity; floats stay floats, bools bools
        if isinstance(value, dict):
            return {k: kinds(v) for k, v in value.items()}
        if isinstance(value, list):
            return [kinds(v) for v in value]
        return "unknown" if isinstance(value, Unknown) else (type(value).__name__, value)

    assert kinds(runner._wire_roundtrip(values)) == kinds(rpc.deserialize_properties(_serialize(values)))


def test_plain_keeps_its_meaning_for_every_kind_of_value() -> None:
    class Named(pulumi.CustomResource):
        def __init__(self) -> None:  # not registered: only its name is read
            self._name = "bucket"

    value = {"s": "x", "b": True, "i": 3, "n": None, "f": 2.0, "g": 2.5, "inf": float("inf"), "enum": _Colour.RED,
             "t": ("a", 1.0), "secret": {rpc._special_sig_key: rpc._special_secret_sig, "value": "v"},
             "u": Unknown(), "sentinel": rpc.UNKNOWN, "r": Named(), "other": Path("p")}
    plain = runner._plain(value)
    assert plain == {"s": "x", "b": True, "i": 3, "n": None, "f": 2, "g": 2.5, "inf": float("inf"),
                     "enum": _Colour.RED, "t": ["a", 1], "secret": "[secret]", "u": "[unknown]",
                     "sentinel": rpc.UNKNOWN, "r": "bucket", "other": "p"}
    assert type(plain["f"]) is int and type(plain["b"]) is bool and type(plain["enum"]) is _Colour


@pytest.mark.parametrize("stack", ["dev", "gcp-dev", "staging", "prod", "gcp-prod"])
def test_scalars_serialized_directly_give_the_sdks_plan(stack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_stack_config(Path(__file__).resolve().parents[3], stack)
    direct = _everything(run_plan(cfg))
    monkeypatch.setattr(runner, "_SCALARS_DIRECTLY", False)  # every value through the SDK's serializer
    assert _everything(run_plan(cfg)) == direct


@pytest.mark.parametrize("value", ["x", True, 0, 3, 2**70, 1.5, float("nan"), _Colour.RED, None, [1, "a", _Colour.RED],
                                   {"k": 1, "e": _Colour.RED}, ("t", 2), rpc.UNKNOWN, Unknown()])
def test_scalars_serialized_directly_are_what_the_sdk_serializes(value: Any) -> None:
    async def both() -> tuple[Any, Any]:
        ours = await runner._serialize_property(value, [], "key")
        sdk = await runner._SDK_SERIALIZE_PROPERTY(value, [], "key")
        return ours, sdk

    ours, sdk = asyncio.run(both())
    assert repr(ours) == repr(sdk) and type(ours) is type(sdk)


def test_scalars_are_serialized_directly_only_while_a_plan_runs(tmp_path: Path) -> None:
    seen, _ = _seen_while_a_plan_runs(tmp_path, lambda: rpc.serialize_property)
    assert seen == [runner._serialize_property]
    assert rpc.serialize_property is runner._SDK_SERIALIZE_PROPERTY

"""Checks each planned resource's inputs against the request the provider sends with them.

For every resource type in `bindings.BINDINGS` the inputs are walked alongside the request
shape of the create call: enum membership, numeric ranges (botocore `min`/`max`, Google
`minimum`/`maximum` and integer formats), string length and pattern, list and map sizes, and
the members a nested request structure requires. Only known values are checked: unknown
outputs (`[unknown]`) and secrets are skipped. The IDs of other resources are checked like any
value: the mock engine issues them in the clouds' own formats (`vpc-` and 17 hex digits,
aiinfra/offline/mocks.py), so a reference the API's pattern or length refuses is the program's.

Patterns must match the whole value, as the services apply them: IAM refuses `bad name` with
"Member must satisfy regular expression pattern: [\\w+=,.@-]+", and Google validates names
against the RFC 1035 form `[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?` (tflint-ruleset-aws anchors the
botocore patterns the same way). A pattern Python's `re` cannot compile (Java's `\\p{...}`
classes) is not checked.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiinfra.apicheck.bindings import BINDINGS, UNCHECKED, Binding
from aiinfra.apicheck.models import Api, Shape, aws_api, aws_input, gcp_api, gcp_input
from aiinfra.problems import Problem, ProblemsError

_OPAQUE = ("[unknown]", "[secret]")
_ENUM_LISTED = 12  # enums longer than this are summarised with the closest values


class ApiCheckError(ProblemsError):
    """A planned resource carries a value the cloud's API would refuse (exit 2)."""

    title = "a value the cloud API would refuse"


@dataclass(frozen=True)
class _Target:
    api: Api
    operation: str
    shape: Shape | None
    transform: str


@functools.cache
def _target(token: str, member_path: str) -> _Target:
    binding = BINDINGS[token]
    operation, sep, path = member_path.rpartition(":")
    if not sep:
        operation, path = binding.operation, member_path
    path, _, transform = path.partition("|")
    if binding.cloud == "aws":
        api, shape = aws_api(binding.service), aws_input(binding.service, operation)
    else:
        api, shape = gcp_api(binding.service), gcp_input(binding.service, operation)
    node: Shape | None = shape
    for segment in [s for s in path.split(".") if s]:
        many = segment.endswith("[]")
        node = node.member(segment.removesuffix("[]")) if node is not None else None
        if many and node is not None:
            node = node.item()
    return _Target(api, operation, node, transform)


def _values(inputs: Any, path: str, where: str = "") -> Iterator[tuple[str, Any]]:
    """The values at a property path (`notifications[].threshold`), each with its concrete path."""
    head, _, rest = path.partition(".")
    many = head.endswith("[]")
    key = head.removesuffix("[]")
    if not isinstance(inputs, dict) or key not in inputs:
        return
    value = inputs[key]
    here = f"{where}.{key}" if where else key
    items: list[tuple[str, Any]] = [(f"{here}[{i}]", v) for i, v in enumerate(value)] if many and isinstance(
        value, list) else ([] if many else [(here, value)])
    for at, item in items:
        if rest:
            yield from _values(item, rest, at)
        else:
            yield at, item


class _Checker:
    def __init__(self, token: str, name: str, binding: Binding) -> None:
        self.token, self.name, self.binding = token, name, binding
        self.problems: list[Problem] = []
        self.checked: list[str] = []

    def run(self, inputs: dict[str, Any]) -> None:
        for prop, member_path in self.binding.members.items():
            if member_path is None:
                continue
            target = _target(self.token, member_path)
            if target.shape is None:
                raise LookupError(f"{self.token}: {member_path} is not in {target.operation}")
            for at, value in _values(inputs, prop):
                self._check(_transform(value, target.transform), target.shape, target, at, prop, top=True)
        if not self.binding.auto:
            return
        root = _target(self.token, self.binding.root)
        if root.shape is None:
            raise LookupError(f"{self.token}: root {self.binding.root} is not in {root.operation}")
        for key, value in inputs.items():
            if key in self.binding.members:
                continue
            shape = root.shape.member(key)
            if shape is not None:
                self._check(value, shape, root, key, key, top=True)

    def _fail(self, at: str, value: Any, target: _Target, message: str, allowed: str | tuple[str, ...]) -> None:
        self.problems.append(Problem(
            path=f"{self.token} '{self.name}' {at}", value=value, allowed=allowed,
            message=f"{message} ({target.operation}, {target.api.source})"))

    def _check(self, value: Any, shape: Shape, target: _Target, at: str, prop: str, top: bool = False) -> None:
        if value is None or (isinstance(value, str) and value in _OPAQUE):
            return
        if top:
            self.checked.append(prop)
        api = target.api.label
        if shape.kind == "structure" and isinstance(value, dict):
            present = {k.lower() for k, v in value.items() if v is not None}
            for key, child in value.items():
                child_prop = f"{prop}.{key}"
                if child_prop in self.binding.members:
                    continue
                member = shape.member(key)
                if member is not None:
                    self._check(child, member, target, f"{at}.{key}", child_prop)
            for required in shape.required():
                if required.lower() not in present and f"{prop}.{_camel(required)}" not in self.binding.members:
                    self._fail(at, value, target, f"has no {_camel(required)}, which the {api} API requires "
                               f"in {shape.name}", (required,))
            return
        if shape.kind in ("list", "map") and isinstance(value, (list, dict)):
            if (shape.kind == "list") != isinstance(value, list):
                return
            self._size(len(value), shape, target, at, "items" if shape.kind == "list" else "entries")
            if isinstance(value, list):
                item = shape.item()
                for i, v in enumerate(value):
                    if item is not None:
                        self._check(v, item, target, f"{at}[{i}]", f"{prop}[]")
            else:
                key_shape, value_shape = shape.map_key(), shape.map_value()
                for k, v in value.items():
                    if key_shape is not None:
                        self._check(k, key_shape, target, f"{at} key", f"{prop}{{}}")
                    if value_shape is not None:
                        self._check(v, value_shape, target, f"{at}[{k!r}]", f"{prop}{{}}")
            return
        if shape.kind == "string" and isinstance(value, str):
            self._string(value, shape, target, at)
        elif shape.kind in ("integer", "float") and not isinstance(value, bool):
            number = _number(value)
            if number is not None:
                self._range(number, value, shape, target, at)

    def _string(self, value: str, shape: Shape, target: _Target, at: str) -> None:
        api = target.api.label
        if shape.enum and value not in shape.enum:
            if len(shape.enum) <= _ENUM_LISTED:
                self._fail(at, value, target, f"{value!r} is not one of the {api} API's {shape.name} values: "
                           f"{', '.join(shape.enum)}", shape.enum)
            else:
                close = difflib.get_close_matches(value, shape.enum, n=3)
                hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
                self._fail(at, value, target, f"{value!r} is not one of the {api} API's {len(shape.enum)} "
                           f"{shape.name} values{hint}", shape.enum)
            return
        self._size(len(value), shape, target, at, "characters", value)
        if shape.pattern and not shape.enum:
            regex = _regex(shape.pattern)
            if regex is not None:
                if not regex.fullmatch(value):
                    self._fail(at, value, target, f"{value!r} does not match the {api} API's {shape.name} "
                               f"pattern {shape.pattern}", shape.pattern)

    def _size(self, size: int, shape: Shape, target: _Target, at: str, unit: str, value: Any = None) -> None:
        low, high = shape.minimum, shape.maximum
        if (low is not None and size < low) or (high is not None and size > high):
            bounds = f"{_num(low) if low is not None else 0}..{_num(high) if high is not None else ''}"
            shown = f"{value!r} is {size} {unit}" if value is not None else f"{size} {unit}"
            self._fail(at, value if value is not None else size, target,
                       f"{shown}; the {target.api.label} API's {shape.name} allows {bounds} {unit}", bounds)

    def _range(self, number: float, value: Any, shape: Shape, target: _Target, at: str) -> None:
        low, high = shape.minimum, shape.maximum
        api = target.api.label
        if low is not None and number < low:
            self._fail(at, value, target, f"{value!r} is below the {api} API's minimum {_num(low)} for "
                       f"{shape.name}", f">= {_num(low)}")
        elif high is not None and number > high:
            self._fail(at, value, target, f"{value!r} is above the {api} API's maximum {_num(high)} for "
                       f"{shape.name}", f"<= {_num(high)}")


def _transform(value: Any, transform: str) -> Any:
    if transform == "wrap" and value is not None and not isinstance(value, list):
        return [value]
    if transform == "join" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        if any(v in _OPAQUE for v in value):
            return None
        return ",".join(value)
    return value


def _camel(member: str) -> str:
    return member[:1].lower() + member[1:]


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


@functools.cache
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def check_resource(token: str, name: str, inputs: dict[str, Any]) -> list[Problem]:
    """The values in one resource's inputs that its create call would refuse."""
    binding = BINDINGS.get(token)
    if binding is None:
        return []
    checker = _Checker(token, name, binding)
    checker.run(inputs)
    return checker.problems


def checked_properties(token: str, inputs: dict[str, Any]) -> list[str]:
    """Which of one resource's property paths were checked against the API model (for coverage)."""
    binding = BINDINGS.get(token)
    if binding is None:
        return []
    checker = _Checker(token, "", binding)
    checker.run(inputs)
    return sorted(set(checker.checked))


def check_resources(resources: Any) -> list[Problem]:
    """Every refused value across planned resources (objects with `type`, `name`, `inputs`, `custom`)."""
    found: list[Problem] = []
    for r in resources:
        if getattr(r, "custom", True):
            found.extend(check_resource(r.type, r.name, r.inputs))
    return found


def check_plan(plan: Any) -> None:
    """Raise `ApiCheckError` listing every value the clouds' APIs would refuse in a plan."""
    found = check_resources(plan.resources)
    if found:
        raise ApiCheckError(found)


def coverage(tokens: Any) -> dict[str, str]:
    """For each resource type: the create call it is checked against, or why it is not checked."""
    out: dict[str, str] = {}
    for token in sorted(set(tokens)):
        binding = BINDINGS.get(token)
        if binding is not None:
            ops = sorted(binding.operations() - {binding.operation})
            extra = f" (+ {', '.join(ops)})" if ops else ""
            out[token] = f"{binding.service} {binding.operation}{extra}"
        elif token in UNCHECKED:
            out[token] = f"not checked: {UNCHECKED[token]}"
        elif token.startswith(("kubernetes:", "pulumi:")):
            out[token] = "not checked: Kubernetes objects are validated against their schemas (kubernetes-validate)"
        else:
            out[token] = "UNMAPPED"
    return out

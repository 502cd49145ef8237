"""The clouds' API models behind one small view: botocore service models and Google discovery excerpts.

A `Shape` answers what the checks ask of a request member: its kind, its members or items,
and its constraints (enum, range, length, pattern, required members). AWS shapes come from
the service models botocore ships (the same JSON the AWS SDKs are generated from); Google
shapes from the discovery documents vendored in `data/` (see `refresh.py`). Models load on
first use and stay cached for the process.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data")

# Google's discovery integer formats, as ranges (the API refuses a value outside them).
_FORMAT_RANGES = {"int32": (-(2**31), 2**31 - 1), "uint32": (0, 2**32 - 1),
                  "int64": (-(2**63), 2**63 - 1), "uint64": (0, 2**64 - 1)}


@dataclass(frozen=True)
class Api:
    """One API model: what the messages cite."""

    label: str
    """How a message names the API: `EFS`, `Compute Engine`."""
    source: str
    """The model and its version: `botocore efs 2015-02-01`, `discovery compute v1 rev 20261106`."""


class Shape:
    """A request member's type and constraints."""

    kind: str  # structure | list | map | string | integer | float | boolean | other
    name: str  # the model's name for it, for messages: `ThroughputMode`, `Scheduling.provisioningModel`
    enum: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None

    def member(self, name: str) -> Shape | None:
        raise NotImplementedError

    def member_names(self) -> list[str]:
        raise NotImplementedError

    def item(self) -> Shape | None:
        raise NotImplementedError

    def map_key(self) -> Shape | None:
        return None

    def map_value(self) -> Shape | None:
        raise NotImplementedError

    def required(self) -> list[str]:
        return []


# -- AWS ---------------------------------------------------------------------------------------------

_AWS_KINDS = {"structure": "structure", "list": "list", "map": "map", "string": "string", "integer": "integer",
              "long": "integer", "float": "float", "double": "float", "boolean": "boolean"}


class AwsShape(Shape):
    def __init__(self, shape: Any) -> None:
        self._shape = shape
        self.kind = _AWS_KINDS.get(shape.type_name, "other")
        self.name = shape.name
        meta = shape.metadata
        self.enum = tuple(meta.get("enum", ()))
        self.minimum = meta.get("min")
        self.maximum = meta.get("max")
        self.pattern = meta.get("pattern")

    @functools.cached_property
    def _members(self) -> dict[str, Any]:
        return {k.lower(): v for k, v in getattr(self._shape, "members", {}).items()}

    def member(self, name: str) -> Shape | None:
        shape = self._members.get(name.lower())
        return AwsShape(shape) if shape is not None else None

    def member_names(self) -> list[str]:
        return list(getattr(self._shape, "members", {}))

    def item(self) -> Shape | None:
        return AwsShape(self._shape.member) if self.kind == "list" else None

    def map_key(self) -> Shape | None:
        return AwsShape(self._shape.key) if self.kind == "map" else None

    def map_value(self) -> Shape | None:
        return AwsShape(self._shape.value) if self.kind == "map" else None

    def required(self) -> list[str]:
        return list(getattr(self._shape, "required_members", []))


@functools.lru_cache(maxsize=1)
def _botocore_loader() -> Any:
    # Imported on first use, and only the loader: `botocore.session` would add ~0.5 s of imports
    # (HTTP stack, credentials) that reading a model does not need. Same search path as a session.
    import botocore.loaders

    return botocore.loaders.create_loader()


@functools.cache
def aws_model(service: str) -> Any:
    import botocore.model

    return botocore.model.ServiceModel(_botocore_loader().load_service_model(service, "service-2"), service)


def aws_api(service: str) -> Api:
    model = aws_model(service)
    label = model.metadata.get("serviceAbbreviation") or model.metadata.get("serviceId") or service
    label = re.sub(r"^(Amazon|AWS)\s*", "", label) or service
    return Api(label, f"botocore {service} {model.api_version}")


def aws_input(service: str, operation: str) -> Shape:
    return AwsShape(aws_model(service).operation_model(operation).input_shape)


# -- Google ------------------------------------------------------------------------------------------


@functools.cache
def gcp_doc(doc: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / f"{doc}.json").read_text())
    return loaded


def gcp_api(doc: str) -> Api:
    d = gcp_doc(doc)
    label = re.sub(r"\s*API$", "", d["title"])
    return Api(label, f"discovery {d['name']} {d['version']} rev {d['revision']}")


class GcpShape(Shape):
    def __init__(self, doc: str, node: dict[str, Any], name: str, method: str) -> None:
        self._doc = doc
        self._method = method
        ref = node.get("$ref")
        self._node = gcp_doc(doc)["schemas"][ref] if ref else node
        self.name = ref or name
        kind = self._node.get("type", "other")
        if kind == "object" and "additionalProperties" in self._node:
            kind = "map"
        elif kind == "object":
            kind = "structure"
        elif kind == "array":
            kind = "list"
        elif kind == "number":
            kind = "float"
        elif kind == "string" and self._node.get("format") in _FORMAT_RANGES:
            kind = "integer"  # int64 and uint64 travel as JSON strings
        self.kind = kind if kind in _AWS_KINDS.values() else "other"
        self.enum = tuple(self._node.get("enum", ()))
        self.pattern = self._node.get("pattern")
        low, high = _FORMAT_RANGES.get(self._node.get("format", ""), (None, None))
        self.minimum = float(self._node["minimum"]) if "minimum" in self._node else low
        self.maximum = float(self._node["maximum"]) if "maximum" in self._node else high

    def _child(self, node: dict[str, Any], name: str) -> GcpShape:
        return GcpShape(self._doc, node, name, self._method)

    def member(self, name: str) -> Shape | None:
        props = self._node.get("properties", {})
        for key, node in props.items():
            if key.lower() == name.lower():
                return self._child(node, f"{self.name}.{key}")
        return None

    def member_names(self) -> list[str]:
        return list(self._node.get("properties", {}))

    def item(self) -> Shape | None:
        if self.kind != "list":
            return None
        item = self._child(self._node["items"], self.name)
        if self.pattern and not item.pattern:
            item.pattern = self.pattern  # discovery puts a list's item pattern on the list (`Tags.items`)
        return item

    def map_value(self) -> Shape | None:
        return self._child(self._node["additionalProperties"], self.name) if self.kind == "map" else None

    def required(self) -> list[str]:
        return [k for k, node in self._node.get("properties", {}).items()
                if self._method in node.get("annotations", {}).get("required", ())]


def gcp_input(doc: str, method: str) -> Shape:
    ref = gcp_doc(doc)["methods"][method]["request"]
    return GcpShape(doc, {"$ref": ref}, ref, method)

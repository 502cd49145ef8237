"""The vendored discovery excerpts: what `refresh` keeps, and that the committed ones match the table."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aiinfra.apicheck.bindings import BINDINGS
from aiinfra.apicheck.models import DATA
from aiinfra.apicheck.refresh import excerpt

DOC: dict[str, Any] = {
    "name": "demo", "version": "v1", "revision": "20260101", "title": "Demo API",
    "resources": {"things": {"methods": {"insert": {
        "id": "demo.things.insert", "httpMethod": "POST", "path": "things", "request": {"$ref": "Thing"}}},
        "resources": {"parts": {"methods": {"get": {"id": "demo.things.parts.get", "httpMethod": "GET",
                                                    "path": "parts", "request": {"$ref": "Unused"}}}}}}},
    "schemas": {
        "Thing": {"id": "Thing", "type": "object", "description": "a thing", "properties": {
            "kind": {"type": "string", "enum": ["A", "B"], "enumDescriptions": ["a", "b"], "description": "k"},
            "parts": {"type": "array", "items": {"$ref": "Part"}}}},
        "Part": {"id": "Part", "type": "object", "properties": {"size": {"type": "integer", "format": "uint32"}}},
        "Unused": {"id": "Unused", "type": "object", "properties": {}},
    },
}


def test_excerpt_keeps_reachable_schemas_and_constraints_only() -> None:
    out = excerpt(DOC, {"demo.things.insert"}, "test")
    assert out["methods"] == {"demo.things.insert": {"request": "Thing", "httpMethod": "POST", "path": "things"}}
    assert sorted(out["schemas"]) == ["Part", "Thing"]
    assert out["schemas"]["Thing"]["properties"]["kind"] == {"type": "string", "enum": ["A", "B"]}
    assert out["schemas"]["Part"]["properties"]["size"] == {"type": "integer", "format": "uint32"}
    assert (out["revision"], out["x-source"]) == ("20260101", "test")


def test_excerpt_refuses_a_method_the_document_lacks() -> None:
    with pytest.raises(SystemExit, match=r"demo: methods not in the document: demo\.things\.delete"):
        excerpt(DOC, {"demo.things.delete"}, "test")


def test_every_bound_google_method_is_in_the_vendored_excerpt_with_its_revision() -> None:
    for token, binding in BINDINGS.items():
        if binding.cloud != "gcp":
            continue
        doc = json.loads((DATA / f"{binding.service}.json").read_text())
        assert doc["revision"].isdigit() and doc["x-source"], binding.service
        for method in binding.operations():
            assert method in doc["methods"], f"{token}: {method} not in data/{binding.service}.json"

"""Rebuilds the vendored Google discovery excerpts in `data/` from full discovery documents.

    python -m aiinfra.apicheck.refresh DIR [SOURCE]

DIR holds Google's discovery documents (`compute.v1.json`, `tpu.v2.json`, `file.v1.json`,
`container.v1.json`, `storage.v1.json`), e.g. `googleapiclient/discovery_cache/documents`
of a google-api-python-client wheel (`pip download --no-deps google-api-python-client`),
or the documents served at `https://<api>.googleapis.com/$discovery/rest?version=<v>`.
An excerpt keeps the document's identity (name, version, revision, title), the request
schema of each method `bindings.py` uses, and every schema reachable from those, with the
fields the checks read (type, $ref, items, additionalProperties, enum, pattern, format,
minimum, maximum, required annotations); descriptions are dropped. That keeps CI free of
the 17 MB client library while every constraint stays Google's own.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from aiinfra.apicheck.bindings import BINDINGS

DATA = Path(__file__).with_name("data")
KEEP = ("type", "$ref", "items", "additionalProperties", "enum", "pattern", "format", "minimum", "maximum",
        "annotations", "properties")


def _methods(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for res in resources.values():
        for method in res.get("methods", {}).values():
            out[method["id"]] = method
        out.update(_methods(res.get("resources", {})))
    return out


def _slim(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _slim(v) if k in ("items", "additionalProperties") else
                ({p: _slim(s) for p, s in v.items()} if k == "properties" else v)
                for k, v in node.items() if k in KEEP}
    return node


def excerpt(doc: dict[str, Any], method_ids: set[str], source: str) -> dict[str, Any]:
    methods = _methods(doc.get("resources", {}))
    missing = sorted(m for m in method_ids if m not in methods)
    if missing:
        raise SystemExit(f"{doc.get('name')}: methods not in the document: {', '.join(missing)}")
    kept_methods = {m: {"request": methods[m]["request"]["$ref"], "httpMethod": methods[m]["httpMethod"],
                        "path": methods[m].get("flatPath", methods[m]["path"])} for m in sorted(method_ids)}
    schemas: dict[str, Any] = {}
    todo = [m["request"] for m in kept_methods.values()]
    while todo:
        name = todo.pop()
        if name in schemas:
            continue
        schemas[name] = _slim(doc["schemas"][name])
        todo.extend(_refs(doc["schemas"][name]))
    return {"name": doc["name"], "version": doc["version"], "revision": doc["revision"], "title": doc["title"],
            "x-source": source, "methods": kept_methods, "schemas": dict(sorted(schemas.items()))}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(__doc__, file=sys.stderr)
        return 2
    src = Path(argv[0])
    label = argv[1] if len(argv) == 2 else str(src)  # where DIR came from, e.g. the client wheel's version
    wanted: dict[str, set[str]] = {}
    for binding in BINDINGS.values():
        if binding.cloud == "gcp":
            wanted.setdefault(binding.service, set()).update(binding.operations())
    for doc_name, method_ids in sorted(wanted.items()):
        doc = json.loads((src / f"{doc_name}.json").read_text())
        out = excerpt(doc, method_ids, f"{label}: {doc_name}.json")
        (DATA / f"{doc_name}.json").write_text(json.dumps(out, indent=1, sort_keys=False) + "\n")
        print(f"{doc_name}: revision {out['revision']}, {len(out['schemas'])} schemas")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

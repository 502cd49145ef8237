"""The README config reference and the `Pulumi.yaml` config block, generated from the key declarations.

Every key is declared once, on its model field (`components/config_reader.py`); this module
renders those declarations. `python -m components.schema_docs` rewrites the generated parts
of `README.md` (between `<!-- config:NAME -->` and `<!-- /config:NAME -->`) and the `config:`
block of `Pulumi.yaml`; `--check` exits 1 when either is stale (a test runs the same check).
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import typing
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

from components.compute.config import GcpGpuGroupSpec, GpuGroupSpec, TpuPodSpec
from components.config_reader import REQUIRED, Setting, settings
from components.images_config import ImagesSpec
from components.kubernetes.config import KubernetesSpec
from components.network.config import NetworkSpec
from components.spec import TOP_LEVEL, StorageSpec
from components.storage.config import FilestoreSpec
from components.workloads.config import WorkloadsSpec

ROOT = Path(__file__).resolve().parents[1]

PROVIDER_ROWS = {
    "aws": [("`aws:region`", "string", "required (AWS)", "region of every AWS resource")],
    "gcp": [("`gcp:project`", "string", "required (GCP)", "project id"),
            ("`gcp:region`", "string", "required (GCP)", "region, e.g. `us-central1`; zones below must be in it")],
}


def _model_of(hint: Any) -> tuple[type | None, bool]:
    """The config model a field holds (None: a scalar), and whether it is a list of them."""
    args = [a for a in typing.get_args(hint) if a is not type(None) and a is not Ellipsis]
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return hint, False  # type: ignore[return-value]
    if origin is tuple and args and dataclasses.is_dataclass(args[0]):
        return typing.cast(type, args[0]), True
    if len(args) == 1 and dataclasses.is_dataclass(args[0]):
        return typing.cast(type, args[0]), False
    return None, False


def _type(s: Setting) -> str:
    if s.type_doc:
        return s.type_doc
    kind = s.hint
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if len(args) == 1 and typing.get_origin(kind) is not tuple:
        kind = args[0]
    unit = f" ({s.unit})" if s.unit else ""
    bounds = f" {_num(s.lo)}..{_num(s.hi)}" if s.lo is not None and s.hi is not None else ""
    if kind is bool:
        return "bool"
    if kind is int:
        return f"int{bounds}{unit}"
    if kind is float:
        return f"number{bounds}{unit}"
    if kind is str:
        return "string"
    if isinstance(kind, type) and issubclass(kind, Enum):
        return " \\| ".join(f"`{m.value}`" for m in kind)
    model, many = _model_of(s.hint)
    if model is not None:
        return "list" if many else "object"
    return "list" if typing.get_origin(kind) is tuple else "value"


def _num(value: float | None) -> str:
    return str(int(value)) if value is not None and float(value).is_integer() else str(value)


def _default(s: Setting) -> str:
    if s.default_doc:
        return s.default_doc
    if s.derived:
        return s.derived
    if s.default is REQUIRED:
        return "required"
    value = s.default
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return f"`{value.value}`"
    if isinstance(value, (int, float)):
        return _num(value)
    if isinstance(value, str):
        return f"`{value}`" if value else "—"
    if value == ():
        return "`[]`"
    return "—"


def rows(model: type, prefix: str = "", cloud: str = "") -> Iterator[tuple[str, str, str, str]]:
    """(key, type, default, meaning) for every declared key of `model`, nested models flattened."""
    for s in settings(model).values():
        if cloud and s.cloud and s.cloud != cloud:
            continue
        here = s.on(cloud) if cloud else s
        sub, many = _model_of(s.hint)
        key = f"{prefix}{here.key}"
        shown = f"`{key}`"
        if not cloud and s.gcp.get("key"):
            shown = f"`{key}` (AWS) / `{prefix}{s.gcp['key']}` (GCP)"
        only = f" ({s.cloud.upper()} only)" if s.cloud and not cloud else ""
        if here.doc or sub is None:
            yield shown, _type(here), _default(here), here.doc + only
        if sub is not None:
            yield from rows(sub, f"{key}[]." if many else f"{key}.", cloud)


def _table(body: list[tuple[str, str, str, str]]) -> str:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    lines += [f"| {k} | {t} | {d} | {m} |" for k, t, d, m in body]
    return "\n".join(lines)


def tables() -> dict[str, str]:
    """Each generated README table, by marker name."""
    top = [*PROVIDER_ROWS["aws"], *PROVIDER_ROWS["gcp"]]
    top += [(f"`{k.key}`", k.readme_type, k.readme_default, k.readme_meaning) for k in TOP_LEVEL]
    return {
        "top": _table(top),
        "network": _table(list(rows(NetworkSpec))),
        "storage": _table(list(rows(StorageSpec, cloud="aws"))),
        "gpu-groups": _table(list(rows(GpuGroupSpec, cloud="aws"))),
        "gcp": _table([*PROVIDER_ROWS["gcp"], *rows(FilestoreSpec, "storage.filestore.", "gcp"),
                       *rows(GcpGpuGroupSpec, "gpuGroups[].", "gcp"), *rows(TpuPodSpec, "tpuPods[].", "gcp")]),
        "kubernetes": _table(list(rows(KubernetesSpec))),
        "workloads": _table(list(rows(WorkloadsSpec))),
        "images": _table(list(rows(ImagesSpec))),
    }


_MARKED = re.compile(r"(<!-- config:(?P<name>[a-z-]+) -->\n)(?P<body>.*?)(\n<!-- /config:(?P=name) -->)", re.S)


def render_readme(text: str) -> str:
    """The README with every generated table brought up to date."""
    generated = tables()

    def swap(m: re.Match[str]) -> str:
        return m.group(1) + generated[m.group("name")] + m.group(4)

    return _MARKED.sub(swap, text)


def _yaml_str(value: str) -> str:
    plain = re.fullmatch(r"[A-Za-z0-9][^:#{}\[\]&*!|>'\"%@`]*", value) and not value.endswith(" ")
    return value if plain else json.dumps(value)


def pulumi_config_block() -> str:
    """The `config:` block of Pulumi.yaml: each top-level key's type, default and description."""
    lines = ["config:"]
    for k in TOP_LEVEL:
        lines.append(f"  {k.key}:")
        if k.kind == "string":
            lines.append("    type: string")
            if k.default is not None:
                lines.append(f"    default: {k.default}")
        lines.append(f"    description: {_yaml_str(k.description)}")
        if k.kind != "string":
            lines.append(f"    default: {json.dumps(k.default)}")
    return "\n".join(lines) + "\n"


def render_pulumi_yaml(text: str) -> str:
    head, sep, _ = text.partition("\nconfig:\n")
    if not sep:
        return text.rstrip("\n") + "\n" + pulumi_config_block()
    return head + "\n" + pulumi_config_block()


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, render in ((ROOT / "README.md", render_readme), (ROOT / "Pulumi.yaml", render_pulumi_yaml)):
        text = path.read_text(encoding="utf-8")
        new = render(text)
        if new != text:
            stale.append(path.name)
            if not check:
                path.write_text(new, encoding="utf-8")
    if check and stale:
        print(f"stale: {', '.join(stale)}; run `python -m components.schema_docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

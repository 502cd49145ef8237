"""Reading a Pulumi project and one stack's config the way the CLI does, with `--set` overrides."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ProjectError(Exception):
    """The project or stack files cannot be read (exit 2, clean message)."""


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    project_dir: Path
    main: Path
    """The program to run (`main` in Pulumi.yaml, else `__main__.py` in the project dir)."""
    values: dict[str, Any] = field(default_factory=dict)
    """Full keys (`ai-infra:network`, `aws:region`) to decoded values (objects stay objects)."""
    secret_keys: tuple[str, ...] = ()

    def wire_config(self) -> dict[str, str]:
        """Config as the language host hands it to a program: strings, objects as JSON."""
        return {key: _wire(value) for key, value in self.values.items()}


def _wire(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)


def load_project(project_dir: Path) -> dict[str, Any]:
    path = project_dir / "Pulumi.yaml"
    if not path.is_file():
        raise ProjectError(f"no Pulumi.yaml in {project_dir}")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ProjectError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or "name" not in doc:
        raise ProjectError(f"{path}: missing 'name'")
    return doc


def stack_names(project_dir: Path) -> list[str]:
    """Stacks that have a config file in the project's stackConfigDir."""
    project = load_project(project_dir)
    config_dir = project_dir / project.get("stackConfigDir", ".")
    names = []
    for path in sorted(config_dir.glob("Pulumi.*.yaml")):
        names.append(path.name[len("Pulumi."):-len(".yaml")])
    return names


def load_stack_config(project_dir: Path, stack: str, overrides: list[str] | None = None) -> StackConfig:
    """Project defaults from Pulumi.yaml, then the stack file, then `KEY=VALUE` overrides."""
    project = load_project(project_dir)
    name = project["name"]
    config_dir = project_dir / project.get("stackConfigDir", ".")
    stack_file = config_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        known = ", ".join(stack_names(project_dir)) or "none"
        raise ProjectError(f"stack {stack!r} has no config file {stack_file.relative_to(project_dir)}; known stacks: "
                           f"{known}")

    values: dict[str, Any] = {}
    for key, decl in (project.get("config") or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        if isinstance(decl, dict):
            if "value" in decl:
                values[full] = decl["value"]
            elif "default" in decl:
                values[full] = decl["default"]
        else:
            values[full] = decl

    try:
        doc = yaml.safe_load(stack_file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ProjectError(f"{stack_file.relative_to(project_dir)}: not valid YAML: {exc}") from None
    secret_keys = []
    for key, value in (doc.get("config") or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            # Ciphertext needs the stack's secrets provider; offline, the value is opaque.
            values[full] = "[secret]"
            secret_keys.append(full)
            continue
        values[full] = value

    for item in overrides or []:
        _apply_override(values, item, name)

    main_rel = project.get("main")
    main = project_dir / main_rel if main_rel else project_dir
    if main.is_dir():
        main = main / "__main__.py"
    return StackConfig(project=name, stack=stack, project_dir=project_dir, main=main, values=values,
                       secret_keys=tuple(secret_keys))


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _apply_override(values: dict[str, Any], item: str, project: str) -> None:
    """`gpuGroups[0].maxSize=8` or `aws:region=us-west-2`: a path into structured config."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ProjectError(f"--set {item!r}: expected KEY=VALUE, e.g. gpuGroups[0].maxSize=8")
    value = yaml.safe_load(raw) if raw else ""
    namespace, colon, path = key.partition(":")
    if not colon:
        namespace, path = project, key
    parts: list[str | int] = []
    for m in _PATH_PART.finditer(path):
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
    if not parts or not isinstance(parts[0], str):
        raise ProjectError(f"--set {item!r}: the path must start with a config key name")
    full = f"{namespace}:{parts[0]}"
    if len(parts) == 1:
        values[full] = value
        return
    root = values.setdefault(full, [] if isinstance(parts[1], int) else {})
    node: Any = root
    for here, nxt in itertools.pairwise(parts[1:]):
        node = _step(node, here, [] if isinstance(nxt, int) else {}, item)
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last > len(node):
            raise ProjectError(f"--set {item!r}: index [{last}] is past the end of the list")
        if last == len(node):
            node.append(value)
        else:
            node[last] = value
    else:
        if not isinstance(node, dict):
            raise ProjectError(f"--set {item!r}: {last!r} is set on a value that is not a mapping")
        node[last] = value


def _step(node: Any, part: str | int, empty: Any, item: str) -> Any:
    if isinstance(part, int):
        if not isinstance(node, list) or part > len(node):
            raise ProjectError(f"--set {item!r}: index [{part}] is past the end of the list")
        if part == len(node):
            node.append(empty)
        return node[part]
    if not isinstance(node, dict):
        raise ProjectError(f"--set {item!r}: {part!r} is not inside a mapping")
    return node.setdefault(part, empty)

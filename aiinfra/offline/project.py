"""Reading a Pulumi project and one stack's config the way the CLI does, with `--set` overrides."""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiinfra.offline import yamlfile
from aiinfra.problems import Problem, ProblemsError


class ProjectError(ProblemsError):
    """The project or stack files cannot be read, or a `--set` is malformed (exit 2, clean message)."""

    def __init__(self, problems: str | Problem | Iterable[Problem | str]) -> None:
        super().__init__([problems] if isinstance(problems, (str, Problem)) else problems)


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
    # YAML timestamps and the like reach the program as their text, as Pulumi passes them.
    return json.dumps(value, default=str)


def load_project(project_dir: Path) -> dict[str, Any]:
    path = project_dir / "Pulumi.yaml"
    if not path.is_file():
        raise ProjectError(f"no Pulumi.yaml in {project_dir}")
    doc = _load_yaml(path, "Pulumi.yaml")
    if not isinstance(doc, dict):
        raise ProjectError(f"{path}: expected a mapping of project settings, got {_kind(doc)}")
    if not isinstance(doc.get("name"), str) or not doc["name"]:
        raise ProjectError(f"{path}: 'name' must be set to the project name (a string)")
    for key in ("stackConfigDir", "main"):
        if key in doc and not isinstance(doc[key], str):
            raise ProjectError(f"{path}: {key}: expected a path (string), got {_kind(doc[key])}")
    if not isinstance(doc.get("config") or {}, dict):
        raise ProjectError(f"{path}: config: expected a mapping of config keys, got {_kind(doc['config'])}")
    return doc


def _load_yaml(path: Path, what: str, where: str | None = None) -> Any:
    try:
        return yamlfile.load_file(path, where or str(path), what)
    except yamlfile.YamlFileError as exc:
        raise ProjectError(exc.items) from None


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return f"{type(value).__name__} {value!r:.40}"


def _inside(project_dir: Path, path: Path, what: str) -> Path:
    """`path` resolved, refused unless it lies inside the project (a stack name or setting cannot leave it)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(project_dir.resolve()):
        raise ProjectError(f"{what} {path} is outside the project {project_dir}; it must be a folder inside it")
    return resolved


def _config_dir(project_dir: Path, project: dict[str, Any]) -> Path:
    return _inside(project_dir, project_dir / project.get("stackConfigDir", "."), "Pulumi.yaml stackConfigDir")


def stack_names(project_dir: Path) -> list[str]:
    """Stacks that have a config file in the project's stackConfigDir."""
    config_dir = _config_dir(project_dir, load_project(project_dir))
    names = []
    for path in sorted(config_dir.glob("Pulumi.*.yaml")):
        names.append(path.name[len("Pulumi."):-len(".yaml")])
    return names


_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def load_stack_config(project_dir: Path, stack: str, overrides: list[str] | None = None) -> StackConfig:
    """Project defaults from Pulumi.yaml, then the stack file, then `KEY=VALUE` overrides."""
    project = load_project(project_dir)
    name = project["name"]
    config_dir = _config_dir(project_dir, project)
    if not _STACK_NAME.match(stack) or stack.strip(".") == "":
        raise ProjectError(f"stack name {stack!r}: letters, digits, '-', '_' and '.' only (as Pulumi allows), "
                           "e.g. dev")
    stack_file = config_dir / f"Pulumi.{stack}.yaml"
    shown = os.path.relpath(stack_file, project_dir)
    if not stack_file.is_file():
        known = ", ".join(stack_names(project_dir)) or "none"
        raise ProjectError(f"stack {stack!r} has no config file {shown}; known stacks: {known}")

    values: dict[str, Any] = {}
    for key, decl in (project.get("config") or {}).items():
        full = key if ":" in str(key) else f"{name}:{key}"
        if isinstance(decl, dict):
            if "value" in decl:
                values[full] = decl["value"]
            elif "default" in decl:
                values[full] = decl["default"]
        else:
            values[full] = decl

    doc = _load_yaml(stack_file, "stack file", shown)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ProjectError(f"{shown}: expected a mapping with a 'config:' block, got {_kind(doc)}")
    config = doc.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ProjectError(f"{shown}: config: expected a mapping of 'namespace:key: value', got {_kind(config)}")
    secret_keys = []
    for key, value in config.items():
        if not isinstance(key, str):
            raise ProjectError(f"{shown}: config: key {key!r} must be a string such as 'ai-infra:environment'")
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
    main = _inside(project_dir, project_dir / main_rel, "Pulumi.yaml main") if main_rel else project_dir
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
    try:
        value = yamlfile.loads(raw, f"--set {key}", key) if raw else ""
    except yamlfile.YamlFileError as exc:
        raise ProjectError(exc.items) from None
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

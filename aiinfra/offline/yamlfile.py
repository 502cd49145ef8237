"""Bounded, strict YAML for project and stack files: what a user's file may make the CLI do.

`yaml.safe_load` runs no code, but it happily accepts a file that is binary, a few
gigabytes, nested ten thousand levels deep, a "billion laughs" of aliases (a few hundred
bytes that expand to billions of values once the config is serialized for the program),
or a mapping that sets the same key twice (the last one silently wins; the Pulumi CLI
rejects such a file). Every one of those is a user mistake here: `YamlFileError`, which
the CLI prints as a one-line message and exit 2.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from aiinfra.problems import Problem, ProblemsError

MAX_BYTES = 1 << 20
"""Largest stack or project file read (1 MiB; the shipped stack files are under 8 KiB)."""
MAX_VALUES = 100_000
"""Most values a document may hold once its aliases are expanded (the shipped files hold a few hundred)."""


class YamlFileError(ProblemsError):
    """A file or `--set` value is not YAML this CLI accepts; each problem names the file and what is wrong."""

    def __init__(self, problems: str | Problem | list[Problem]) -> None:
        super().__init__(problems if isinstance(problems, list) else [problems])


def _problem(where: str, message: str) -> Problem:
    return Problem(path=where, message=message)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and counts the document's size with aliases expanded."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            try:
                first = seen.get(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found a key that is not a string or number: {key!r}", key_node.start_mark) from None
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found duplicate key {key!r} (first set on line {first.start_mark.line + 1}); "
                    "each key may appear once", key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-untyped-call,no-any-return]


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Values in the document with every alias expanded; stops counting past `limit`.

    Aliases share node objects, so sizes are memoised per node: linear in the file, not in
    its expansion. A node that contains itself (`&a [*a]`) is infinitely large.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            return limit + 1
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child)
                if total > limit:
                    break
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
                if total > limit:
                    break
        active.discard(key)
        sizes[key] = total
        return total

    return size(root)


def _non_finite(value: Any, path: str) -> list[tuple[str, float]]:
    if isinstance(value, float) and not math.isfinite(value):
        return [(path, value)]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _non_finite(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _non_finite(v, f"{path}[{i}]")]
    return []


def _mark(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def loads(text: str, where: str, root: str = "") -> Any:
    """Parse one YAML document; `where` names it in messages (a file path, or `--set KEY`), `root` is the
    key path the document sits at (problems inside it are named `root.key[0]...`)."""
    loader: _StrictLoader | None = None
    try:
        loader = _StrictLoader(text)  # reads the first characters: a control character fails here
        node = loader.get_single_node()  # type: ignore[no-untyped-call]
        if node is None:
            return None
        if _expanded_size(node, MAX_VALUES) > MAX_VALUES:
            raise YamlFileError(_problem(where, f"expands to more than {MAX_VALUES:,} values (YAML aliases "
                                                "referring to each other); write the values out"))
        value = loader.construct_document(node)  # type: ignore[no-untyped-call]
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlFileError(_problem(where, f"not valid YAML: {problem}{_mark(exc)}")) from None
    except RecursionError:
        raise YamlFileError(_problem(where, "nested too deeply to be a config file")) from None
    finally:
        if loader is not None:
            loader.dispose()  # type: ignore[no-untyped-call]
    bad = _non_finite(value, root)
    if bad:
        raise YamlFileError([Problem(path=path or where, value=number, allowed="a finite number",
                                     message=f"{number} is not a finite number (.nan and .inf are not allowed; "
                                             f"in {where})") for path, number in bad])
    return value


def read_text(path: Path, what: str = "file", where: str | None = None) -> str:
    """A config file's text: a regular file, at most MAX_BYTES, UTF-8. `where` names it in messages."""
    name = where or str(path)
    try:
        if not path.is_file():
            raise YamlFileError(_problem(name, f"not a regular {what}" if path.exists() else f"no such {what}"))
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise YamlFileError(_problem(name, f"{size:,} bytes; a {what} may hold at most {MAX_BYTES:,}"))
        data = path.read_bytes()
    except OSError as exc:
        raise YamlFileError(_problem(name, f"cannot read: {exc.strerror or exc}")) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlFileError(_problem(name, f"not UTF-8 text (byte {exc.start}); is it a binary file?")) from None


def load_file(path: Path, where: str, what: str = "file") -> Any:
    return loads(read_text(path, what, where), where)

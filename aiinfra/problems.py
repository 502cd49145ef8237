"""Problems with user input, and the one exception base for every "list of problems" error.

A user mistake (a bad stack config, a bad `ai-infra:usage` block, bad sizing options) is
collected as `Problem`s, every one at once, then raised once as a `ProblemsError`:

    ProblemsError                      this module: `items` (Problem), `problems` (rendered lines)
      components.errors.ConfigError    the stack config (`components/`), also a budget file
      aiinfra.catalog.usage.UsageError `ai-infra:usage` (cost assumptions)
      aiinfra.sizing.SizingError       `aiinfra size` goals and options

The trainer images' config errors (`trainkit.config.ConfigError`) follow the same protocol
from `training_images/common/trainkit/problems.py`: the images do not ship this package and
this package may not import the images (ARCHITECTURE.md's import table), so each side carries
it, and `tests/training_images/test_problem_protocol.py` holds the two to the same fields,
rendering, JSON form and parsing. Change both together.

Each problem carries the key path (`gpuGroups[0].instanceType`, `--rps`), the message
(what is wrong and what to do), and when known the value as written and what is allowed.
`render()` gives the one-line form every message has today (`path: message`), so text
output and existing assertions stay as they were; `to_json()` gives the structured form
that `aiinfra plan --format json` prints, so CI can annotate the stack file's lines.

Components may import this module, as they import `aiinfra.catalog` (it imports nothing
from the project).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


class _Unset:
    """The value was not given (distinct from a YAML `null`, which is `None`)."""

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Problem:
    """One thing wrong with user input."""

    path: str
    """Where: a config key path (`gpuGroups[0].maxSize`, `aws:region`), a file, or a CLI option."""
    message: str
    """What is wrong, the value as the user wrote it, what is allowed, and a fix where one is close."""
    value: Any = UNSET
    """The offending value as written (UNSET when the problem is not about one value)."""
    allowed: str | tuple[str, ...] = ()
    """What is allowed: the allowed values (a tuple), or a description such as `1..1000 (GiB)`."""

    def render(self) -> str:
        """The one-line form: `path: message` (just the message when there is no path)."""
        return f"{self.path}: {self.message}" if self.path else self.message

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "message": self.message}
        if self.value is not UNSET:
            out["value"] = _json_value(self.value)
        if self.allowed:
            out["allowed"] = list(self.allowed) if isinstance(self.allowed, tuple) else self.allowed
        return out

    @classmethod
    def parse(cls, line: str) -> Problem:
        """A problem from its rendered `path: message` line (for errors still raised as strings)."""
        path, sep, message = line.partition(": ")
        if not sep or " " in path.strip():
            return cls(path="", message=line)
        return cls(path=path, message=message)


def _json_value(value: Any) -> Any:
    """The value as JSON can carry it: NaN and infinities as strings, other objects by repr."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return repr(value)


class ProblemsError(Exception):
    """User input is invalid; every problem found, raised once (the CLI exits 2, no traceback).

    `items` holds the structured problems; `problems` their rendered lines (`path: message`).
    Subclasses choose the heading with `title` (None: the lines alone).
    """

    title: str | None = None
    """Heading of the rendered error, e.g. 'invalid stack configuration'."""

    def __init__(self, problems: Iterable[Problem | str]) -> None:
        self.items: list[Problem] = [p if isinstance(p, Problem) else Problem.parse(p) for p in problems]
        self.problems: list[str] = [p.render() for p in self.items]
        super().__init__(self.render())

    def render(self) -> str:
        if self.title is None:
            return "\n".join(self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{self.title} ({count} {noun}):"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)

    def to_json(self) -> list[dict[str, Any]]:
        return [p.to_json() for p in self.items]


def problems_of(exc: BaseException) -> list[Problem]:
    """The structured problems an exception carries (a ProblemsError, or anything with `problem_items`)."""
    if isinstance(exc, ProblemsError):
        return list(exc.items)
    items = getattr(exc, "problem_items", None)
    return list(items) if isinstance(items, list) else []

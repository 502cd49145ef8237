"""Structured problems with the images' input, and the exception base for every "list of problems" error.

The same protocol as the tooling's `aiinfra/problems.py`, so a trainer config error reads and
serialises like a stack config error:

    ProblemsError                    this module: `items` (Problem), `problems` (rendered lines)
      trainkit.config.ConfigError    the trainers' config (flags, env vars, `--config` file)

Each problem carries the key path (`max_steps`, `config`), the message (what is wrong and what
to do), and when known the value as given and what is allowed. `render()` gives the one-line
form (`path: message`); `to_json()` the structured form.

Why a second module and not an import of `aiinfra.problems`: the architecture's import table
(`ARCHITECTURE.md`, Layout) lets `training_images/` use "their own deps only", and the images do
not ship the `ai-infra` package (each Dockerfile installs its pinned requirements and
`training_images/common`, nothing else); the `ai-infra` package, for its part, ships
`components` and `aiinfra` only and may not import `training_images/`. So each side carries
the protocol, dependency-free, and `tests/training_images/test_problem_protocol.py` holds them
to it: the same fields, defaults, rendering, JSON form and parsing, checked on the same inputs.
Change both together.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["UNSET", "Problem", "ProblemsError", "problems_of"]


class _Unset:
    """The value was not given (distinct from a JSON or TOML `null`, which is `None`)."""

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Problem:
    """One thing wrong with user input."""

    path: str
    """Where: a config field (`max_steps`), `config` (the `--config` file), or an env var."""
    message: str
    """What is wrong, the value as given, what is allowed, and a fix where one is close."""
    value: Any = UNSET
    """The offending value as given (UNSET when the problem is not about one value)."""
    allowed: str | tuple[str, ...] = ()
    """What is allowed: the allowed values (a tuple), or a description such as `>= 1`."""

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
    """User input is invalid; every problem found, raised once (the entry point exits 2, no traceback).

    `items` holds the structured problems; `problems` their rendered lines (`path: message`).
    Subclasses choose the heading with `title` (None: the lines alone) and may override `render()`.
    """

    title: str | None = None
    """Heading of the rendered error, e.g. 'invalid trainer config'."""

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

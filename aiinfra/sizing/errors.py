"""The one error sizing raises for bad input: every problem at once, each naming the option and value."""

from __future__ import annotations

from aiinfra.problems import ProblemsError


class SizingError(ProblemsError, ValueError):
    """Bad sizing input; `problems` holds one line per problem (option, value, what is allowed)."""

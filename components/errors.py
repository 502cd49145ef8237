"""The exception a user mistake becomes: every problem in the stack config, collected, raised once."""

from __future__ import annotations

from aiinfra.problems import Problem, ProblemsError

__all__ = ["ConfigError", "Problem"]


class ConfigError(ProblemsError):
    """The stack configuration is invalid; `problems` holds one message per problem, `items` the structure.

    Each message names the key path, the bad value and what is allowed. The program
    turns this into a `pulumi.RunError` (clean CLI message) that carries the structured
    problems; the offline plan prints it and exits 2. Neither shows a traceback.
    """

    title = "invalid stack configuration"

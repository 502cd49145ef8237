"""The exception a user mistake becomes: every problem in the stack config, collected, raised once."""

from __future__ import annotations


class ConfigError(Exception):
    """The stack configuration is invalid; `problems` holds one message per problem.

    Each message names the key path, the bad value and what is allowed. The program
    turns this into a `pulumi.RunError` (clean CLI message); the offline plan prints it
    and exits 2. Neither shows a traceback.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"invalid stack configuration ({count} {noun}):"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)

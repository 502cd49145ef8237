"""The one error sizing raises for bad input: every problem at once, each naming the option and value."""

from __future__ import annotations


class SizingError(ValueError):
    """Bad sizing input; `problems` holds one line per problem (option, value, what is allowed)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

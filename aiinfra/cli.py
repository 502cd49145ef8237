"""The `aiinfra` command line: one subcommand per module in `aiinfra.commands`.

Exit codes: 0 success, 1 a gate failed (policy violation, preflight failure),
2 a user mistake or program error (clean message, no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module defines `register(subparsers)`, which adds its parser and sets `func`
# (args -> exit code). Order here is the order in `aiinfra --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "aiinfra.commands.plan",
    "aiinfra.commands.preflight",
    "aiinfra.commands.price",
    "aiinfra.commands.cost",
    "aiinfra.commands.size",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiinfra",
        description="Plan, price and gate the ai-infra Pulumi stacks without cloud credentials.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""The `aiinfra` command line: one subcommand per module in `aiinfra.commands`.

Exit codes: 0 success, 1 a gate failed (policy violation, preflight failure),
2 a user mistake or program error (clean message, no traceback). That holds for any
argv and any file content: each command turns the mistakes it can meet into a message
at its boundary, and `main` is the last net for anything a command did not foresee
(`AIINFRA_DEBUG=1` shows its traceback instead).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import os
import sys
from collections.abc import Sequence

# Each module defines `register(subparsers)`, which adds its parser and sets `func`
# (args -> exit code). Order here is the order in `aiinfra --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "aiinfra.commands.plan",
    "aiinfra.commands.preflight",
    "aiinfra.commands.price",
    "aiinfra.commands.cost",
    "aiinfra.commands.gate",
    "aiinfra.commands.size",
    "aiinfra.commands.catalog",
)


def _version() -> str:
    try:
        return importlib.metadata.version("ai-infra")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiinfra",
        description="Plan, price and gate the ai-infra Pulumi stacks without cloud credentials.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


INTERNAL_ERROR = "internal error"
"""How the last net starts its message; the contract tests assert that no input reaches it."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) and usage mistakes (2, argparse's message is printed)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`aiinfra plan | head`): not an error; keep the exit-time flush quiet too.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if os.environ.get("AIINFRA_DEBUG"):
            raise
        print(f"error: {INTERNAL_ERROR} in `aiinfra {args.command}`: {type(exc).__name__}: {exc}\n"
              "  This is a bug in aiinfra, not in your input as far as it can tell; rerun with AIINFRA_DEBUG=1 "
              "for the traceback and report it.", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Progress lines for a person at a terminal; nothing in JSON mode, in CI or when stderr is not a terminal.

The compressor runs for seconds on the reference models and for hours on a real LLM, and prints
its report only at the end. On a terminal each stage says when it starts and how long it took
(on stderr, so stdout stays the report). ``--format json``, ``CI=true`` or a redirected stderr
turn it off, and the libraries' own progress bars with it.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import TextIO


def enabled(json_output: bool, env: dict[str, str] | None = None, isatty: Callable[[], bool] | None = None) -> bool:
    """True only for a person: not JSON output, not under CI, and stderr is a terminal."""
    env = dict(os.environ) if env is None else env
    if json_output or env.get("CI", "").strip().lower() in ("1", "true", "yes"):
        return False
    return (isatty or sys.stderr.isatty)()


class Progress:
    def __init__(self, enabled: bool = False, total: int = 0, stream: TextIO | None = None):
        self.enabled, self.total, self.done = enabled, total, 0
        self.stream = stream
        self.start = time.monotonic()

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)

    @contextlib.contextmanager
    def stage(self, what: str) -> Iterator[None]:
        """``[n/total] what ...`` before, ``done in X s`` after."""
        self.done += 1
        t0 = time.monotonic()
        if self.enabled:
            self._print(f"{f'[{self.done}/{self.total}] ' if self.total else ''}{what} ...")
        yield
        if self.enabled:
            self._print(f"    done in {time.monotonic() - t0:.1f} s")

    def note(self, what: str) -> None:
        """One line with the time since the run started."""
        if self.enabled:
            self._print(f"[{time.monotonic() - self.start:6.1f} s] {what}")


_current = Progress()


def configure(on: bool) -> Progress:
    global _current
    _current = Progress(on)
    return _current


def current() -> Progress:
    return _current


@contextlib.contextmanager
def library_output(visible: bool) -> Iterator[None]:
    """Libraries (transformers, llm-compressor, compressed-tensors) draw bars and log on stderr: kept on a
    terminal, where per-layer bars help on a model that takes an hour; swallowed otherwise."""
    if visible:
        yield
        return
    with contextlib.redirect_stderr(io.StringIO()):
        yield

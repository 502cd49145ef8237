"""Progress on stderr for commands that take seconds (plan, cost diff, cost report).

On a terminal a single status line says what is running and for how long, and is erased
when the command finishes, so what remains on screen is the command's output alone. It
stays silent when stderr is not a terminal, in CI (`CI=true`, as every major CI sets it),
with `TERM=dumb`, and in JSON mode, where the output is read by programs.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType
from typing import TextIO

_FRAMES = "|/-\\"
_TICK_S = 0.1


def wanted(stream: TextIO, json_mode: bool = False) -> bool:
    """Whether to show progress on `stream`."""
    if json_mode or os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


class Progress:
    """`with Progress.to_stderr(json_mode) as p: p.step("planning dev")`; a no-op when not wanted."""

    def __init__(self, stream: TextIO | None, enabled: bool) -> None:
        self._stream = stream
        self.enabled = enabled and stream is not None
        self._text = ""
        self._since = time.monotonic()
        self._frame = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def to_stderr(cls, json_mode: bool = False) -> Progress:
        return cls(sys.stderr, wanted(sys.stderr, json_mode))

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread = threading.Thread(target=self._spin, name="aiinfra-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.enabled:
            self._write("\r\x1b[2K")

    def step(self, text: str) -> None:
        """What runs now; shown at once, then refreshed with the elapsed time."""
        with self._lock:
            self._text = text
            self._since = time.monotonic()
        self._render()

    def _spin(self) -> None:
        while not self._stop.wait(_TICK_S):
            self._render()

    def _render(self) -> None:
        if not self.enabled or not self._text:
            return
        with self._lock:
            self._frame = (self._frame + 1) % len(_FRAMES)
            line = f"{_FRAMES[self._frame]} {self._text} ({time.monotonic() - self._since:.0f}s)"
        self._write(f"\r\x1b[2K{line}")

    def _write(self, text: str) -> None:
        assert self._stream is not None
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            self.enabled = False  # the terminal went away; the command's own output decides the outcome

"""SIGTERM (Kubernetes eviction, spot preemption) remembered instead of killing the step in flight."""

from __future__ import annotations

import signal
import threading
from typing import Any, Self


class SigtermLatch:
    """Context manager that records a SIGTERM in ``received`` while it is active.

    The handler is installed only when ``install`` is true and only from the main thread
    (Python sets signal handlers there alone, e.g. not when a trainer runs in a worker
    thread); otherwise SIGTERM keeps its current handler. The previous handler comes back on exit.
    """

    def __init__(self, install: bool = True) -> None:
        self.install = install
        self.received: int | None = None
        self._previous: Any = None

    def _handle(self, signum: int, _frame: Any) -> None:
        self.received = signum

    def __enter__(self) -> Self:
        if self.install and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

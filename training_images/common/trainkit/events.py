"""The trainers' JSON-lines event log: one object per line on stdout and, optionally, a file."""

from __future__ import annotations

import json
import time
from typing import Any


class Logger:
    """JSON-lines logger; only the main process (rank / process 0) is ``enabled``."""

    def __init__(self, enabled: bool, path: str):
        self.enabled = enabled
        self.fh = open(path, "a") if path and enabled else None

    def log(self, event: str, **fields: Any) -> None:
        if not self.enabled:
            return
        line = json.dumps({"event": event, "time": round(time.time(), 3), **fields})
        print(line, flush=True)
        if self.fh:
            self.fh.write(line + "\n")
            self.fh.flush()

    def close(self) -> None:
        if self.fh:
            self.fh.close()

"""Docker HEALTHCHECK for the trainers: healthy while the heartbeat file is fresh.

Every process touches HEARTBEAT_FILE at each log step, so a hung collective (a dead peer)
turns the container unhealthy after HEARTBEAT_MAX_AGE seconds (default 900: longer than a
checkpoint write, the initial data load or the first XLA compile).
"""

from __future__ import annotations

import os
import sys
import time


def healthy(path: str, max_age_s: float, now: float | None = None) -> tuple[bool, str]:
    try:
        age = (time.time() if now is None else now) - os.stat(path).st_mtime
    except FileNotFoundError:
        return False, f"no heartbeat at {path} yet"
    if age > max_age_s:
        return False, f"heartbeat {path} is {age:.0f}s old (limit {max_age_s:.0f}s)"
    return True, f"heartbeat {age:.0f}s old"


def main() -> int:
    ok, why = healthy(
        os.environ.get("HEARTBEAT_FILE", "/tmp/trainer-heartbeat"),
        float(os.environ.get("HEARTBEAT_MAX_AGE", "900")),
    )
    print(why)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

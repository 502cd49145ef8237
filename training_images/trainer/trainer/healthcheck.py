"""Docker HEALTHCHECK for the trainer: healthy while the heartbeat file is fresh.

Rank 0..N touch HEARTBEAT_FILE at every log step, so a hung collective (e.g. a
dead peer node) turns the container unhealthy after HEARTBEAT_MAX_AGE seconds
(default 900, longer than a checkpoint write or the initial data load).

The check itself is ``trainkit.healthcheck``, shared by both trainer images.
"""

from __future__ import annotations

import sys

from trainkit.healthcheck import healthy, main

__all__ = ["healthy", "main"]

if __name__ == "__main__":
    sys.exit(main())

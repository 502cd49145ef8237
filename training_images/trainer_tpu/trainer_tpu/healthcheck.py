"""Docker HEALTHCHECK for the TPU trainer: healthy while the heartbeat file is fresh.

Every process touches HEARTBEAT_FILE at each log step, so a hung collective (a dead peer host)
turns the container unhealthy after HEARTBEAT_MAX_AGE seconds (default 900: longer than the
first XLA compile, the initial data load or a checkpoint write).

The check itself is ``trainkit.healthcheck``, shared by both trainer images.
"""

from __future__ import annotations

import sys

from trainkit.healthcheck import healthy, main

__all__ = ["healthy", "main"]

if __name__ == "__main__":
    sys.exit(main())

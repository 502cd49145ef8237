"""Docker HEALTHCHECK: exits 0 when the local server answers /v2/health/ready with 200."""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8080')}/v2/health/ready"
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return 0 if resp.status == 200 else 1
    except OSError as exc:
        print(f"not ready: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""Entry point: ``python -m server``; configured by env vars (see server.app.Settings)."""

from __future__ import annotations

import asyncio
import signal
import sys

import uvloop

from server.app import Settings, serve


async def _main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop)


def main() -> int:
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # uvloop (libuv) runs the same asyncio code with a fraction of the per-request event-loop overhead.
    uvloop.run(_main(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())

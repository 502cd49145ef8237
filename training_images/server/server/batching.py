"""Dynamic batching: concurrent requests to a single-input model are merged along the batch axis.

The queue is bounded (a full queue is refused at once with 503 rather than
growing latency without limit) and a batch is flushed when it reaches
``max_batch`` rows or ``timeout_s`` after its first request arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

RunFn = Callable[[np.ndarray, list[str]], Awaitable[list[np.ndarray]]]


class QueueFullError(Exception):
    """The batching queue is at capacity."""


@dataclass
class _Pending:
    x: np.ndarray
    outputs: list[str]
    future: asyncio.Future[list[np.ndarray]]


class Batcher:
    def __init__(
        self,
        run: RunFn,
        max_batch: int,
        timeout_s: float,
        max_queue: int,
        on_batch: Callable[[int], None] | None = None,
    ):
        self._run = run
        self.max_batch = max_batch
        self.timeout_s = timeout_s
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=max_queue)
        self._on_batch = on_batch
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def submit(self, x: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        fut: asyncio.Future[list[np.ndarray]] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Pending(x, outputs, fut))
        except asyncio.QueueFull:
            raise QueueFullError(f"batching queue is full ({self._queue.maxsize} requests); retry later") from None
        return await fut

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            batch, rows = [first], len(first.x)
            deadline = loop.time() + self.timeout_s
            # Merge only requests that ask for the same outputs and trailing shape.
            while rows < self.max_batch:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    nxt = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
                if (
                    nxt.outputs != first.outputs
                    or nxt.x.shape[1:] != first.x.shape[1:]
                    or (rows + len(nxt.x) > self.max_batch)
                ):
                    await self._execute([nxt], len(nxt.x))  # incompatible: run it on its own
                    continue
                batch.append(nxt)
                rows += len(nxt.x)
            await self._execute(batch, rows)

    async def _execute(self, batch: list[_Pending], rows: int) -> None:
        if self._on_batch:
            self._on_batch(rows)
        try:
            merged = np.concatenate([p.x for p in batch]) if len(batch) > 1 else batch[0].x
            results = await self._run(merged, batch[0].outputs)
        except Exception as exc:  # delivered to every waiting request, the loop keeps going
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        start = 0
        for p in batch:
            n = len(p.x)
            if not p.future.done():
                p.future.set_result([r[start : start + n] for r in results])
            start += n

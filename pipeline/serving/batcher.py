"""Micro-batching: concurrent requests for one model gathered into one model call, run on the model's own
worker thread so the event loop (and `/healthz`) stays free.

Requests carry a key (for example the beam width); a batch holds requests of one key only, whole, in arrival
order, up to `max_batch` items (a single larger request goes alone). The first request of a batch waits at
most `max_wait_ms` for company. Past `max_queue` waiting items a request is refused (QueueFull); a request
not answered within its timeout gets RequestTimeout (if it had not started, it is dropped from the queue).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any


class QueueFull(Exception):
    """More items are waiting for this model than the server accepts."""


class RequestTimeout(Exception):
    """The request was not answered in time."""


@dataclass
class _Pending:
    key: Hashable
    items: Sequence[Any]
    future: asyncio.Future
    arrived: float = field(default_factory=time.monotonic)


class MicroBatcher:
    """Gathers `submit`ted items into calls of `run_batch(key, items) -> results` (one result per item)."""

    def __init__(
        self,
        name: str,
        run_batch: Callable[[Hashable, list[Any]], list[Any]],
        executor: ThreadPoolExecutor,
        max_batch: int = 64,
        max_wait_ms: float = 5.0,
        max_queue: int = 1024,
    ):
        self.name = name
        self.run_batch = run_batch
        self.executor = executor
        self.max_batch = max(1, int(max_batch))
        self.max_wait = max(0.0, max_wait_ms) / 1000.0
        self.max_queue = max(1, int(max_queue))
        self.pending: list[_Pending] = []
        self.waiting = 0  # items queued and not yet handed to the model
        self.batches = 0  # model calls made (for tests and the benchmark)
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None

    def _start(self) -> None:
        if self._worker is None or self._worker.done():
            self._wakeup = asyncio.Event()
            self._worker = asyncio.get_running_loop().create_task(self._run(), name=f"batcher-{self.name}")

    async def submit(self, key: Hashable, items: Sequence[Any], timeout: float) -> list[Any]:
        """The results for `items`, in their order (the model's exception if its call failed)."""
        if self.waiting + len(items) > self.max_queue:
            raise QueueFull(
                f"model '{self.name}' has {self.waiting} texts waiting (--max-queue {self.max_queue}); "
                "try again shortly"
            )
        self._start()
        request = _Pending(key, items, asyncio.get_running_loop().create_future())
        self.pending.append(request)
        self.waiting += len(items)
        self._wakeup.set()
        try:
            return await asyncio.wait_for(asyncio.shield(request.future), timeout)
        except TimeoutError:
            if request in self.pending:  # never started: drop it
                self.pending.remove(request)
                self.waiting -= len(items)
            raise RequestTimeout(f"model '{self.name}' did not answer within {timeout:g} s") from None

    def _gathered(self, key: Hashable) -> int:
        return sum(len(p.items) for p in self.pending if p.key == key)

    def _take(self) -> list[_Pending]:
        """The next batch: the oldest request and younger ones of its key, up to max_batch items."""
        key = self.pending[0].key
        batch: list[_Pending] = []
        size = 0
        for request in list(self.pending):
            if request.key != key:
                continue
            if batch and size + len(request.items) > self.max_batch:
                break
            batch.append(request)
            size += len(request.items)
            self.pending.remove(request)
        self.waiting -= size
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            deadline = self.pending[0].arrived + self.max_wait
            while self._gathered(self.pending[0].key) < self.max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                except TimeoutError:
                    break
                if not self.pending:
                    break
            if not self.pending:
                continue
            batch = self._take()
            items = [item for request in batch for item in request.items]
            self.batches += 1
            try:
                results = await loop.run_in_executor(self.executor, self.run_batch, batch[0].key, items)
            except Exception as error:  # the model's error goes to every request of the batch
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(error)
                continue
            start = 0
            for request in batch:
                end = start + len(request.items)
                if not request.future.done():
                    request.future.set_result(results[start:end])
                start = end

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except (asyncio.CancelledError, Exception):
                pass

"""Group commit: many callers' writes share one transaction or one pipeline.

Each caller waits until its own item is durable. While one write is in flight the next callers
gather, so under load the batches grow by themselves and the number of writes stays small. One
write at a time, on every backend: several small writes at once cost more CPU per item than one
larger write, and the CPU is what runs out first (measured with `benchmarks/ingest.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class GroupCommit(Generic[T]):
    def __init__(
        self, write: Callable[[Sequence[T]], Awaitable[None]], *, max_batch: int = 1000
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False

    async def submit(self, item: T) -> None:
        """Returns once `item` is written; raises what the write raised."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        self._wake.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_forever(), name="group-commit")
        await future

    async def close(self) -> None:
        """Writes what is waiting, then stops."""
        self._closing = True
        self._wake.set()
        if self._flusher is not None:
            await self._flusher
            self._flusher = None

    async def _flush_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                await self._write_batch(batch)
            if self._closing:
                return

    async def _write_batch(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        try:
            await self._write([item for item, _ in batch])
        except Exception as error:  # noqa: BLE001 - handed to every waiting caller
            log.warning("group write of %d items failed: %s", len(batch), error)
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)

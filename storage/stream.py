"""The scaled-out queue: a Redis Stream read by a consumer group of `livecart worker` processes.

A consumer that dies leaves its entries pending; live consumers claim entries idle longer than
`reclaim_after` (XAUTOCLAIM), so nothing is lost.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from storage.group_commit import GroupCommit
from storage.queue import QueuedDelivery
from storage.redis_keys import RedisKeys

BODY = b"body"
Entry = tuple[bytes, dict[bytes, bytes]]
StreamReply = list[tuple[bytes, list[Entry]]] | None
# XAUTOCLAIM answers [next start id, claimed entries, ids deleted meanwhile]
AutoclaimReply = list[object]


class RedisStreamQueue:
    def __init__(self, redis: Redis, keys: RedisKeys, *, reclaim_after: float = 30.0) -> None:
        self._redis = redis
        self._keys = keys
        self._reclaim_after_ms = int(reclaim_after * 1000)
        self._next_reclaim = 0.0
        self._group_ready = False
        self._writes: GroupCommit[bytes] = GroupCommit(self._append)

    async def put(self, body: bytes) -> None:
        await self._writes.submit(body)

    async def _append(self, bodies: Sequence[bytes]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for body in bodies:
                pipe.xadd(self._keys.inbox, {BODY: body})
            await pipe.execute()

    async def take(self, consumer: str, limit: int, wait: float) -> list[QueuedDelivery]:
        await self._ensure_group()
        reclaimed = await self._reclaim(consumer, limit)
        if reclaimed:
            return reclaimed
        reply = await self._redis.xreadgroup(
            self._keys.inbox_group,
            consumer,
            {self._keys.inbox: ">"},
            count=limit,
            block=max(1, int(wait * 1000)) if wait > 0 else None,
        )
        return [
            _delivery(entry_id, fields)
            for _, entries in cast(StreamReply, reply) or []
            for entry_id, fields in entries
        ]

    async def _reclaim(self, consumer: str, limit: int) -> list[QueuedDelivery]:
        """Entries a dead consumer left pending, at most once every few seconds per consumer."""
        now = time.monotonic()
        if now < self._next_reclaim:
            return []
        self._next_reclaim = now + min(5.0, self._reclaim_after_ms / 2000)
        reply: AutoclaimReply = await self._redis.xautoclaim(
            self._keys.inbox,
            self._keys.inbox_group,
            consumer,
            min_idle_time=self._reclaim_after_ms,
            start_id="0-0",
            count=limit,
        )
        entries = cast(list[Entry], reply[1])
        return [_delivery(entry_id, fields) for entry_id, fields in entries if fields]

    async def ack(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xack(self._keys.inbox, self._keys.inbox_group, *ids)
            pipe.xdel(self._keys.inbox, *ids)
            await pipe.execute()

    async def depth(self) -> int:
        return int(await self._redis.xlen(self._keys.inbox))

    async def close(self) -> None:
        await self._writes.close()

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(
                self._keys.inbox, self._keys.inbox_group, id="0", mkstream=True
            )
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._group_ready = True


def _delivery(entry_id: bytes | str, fields: dict[bytes, bytes]) -> QueuedDelivery:
    ident = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return QueuedDelivery(ident, fields[BODY])

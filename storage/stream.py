"""The scaled-out queue: a Redis Stream read by a consumer group of `livecart worker` processes.

A consumer that dies leaves its entries pending; live consumers claim entries idle longer than
`reclaim_after` (XAUTOCLAIM), so nothing is lost. Parked deliveries wait in a stream of their
own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from storage.group_commit import GroupCommit
from storage.queue import ParkedDelivery, QueuedDelivery
from storage.redis_keys import RedisKeys

BODY = b"body"
ATTEMPTS = b"attempts"
ERROR = b"error"
# A parked entry's, and one queued again from it: when the delivery first reached the queue
# (microseconds since the epoch). An entry without it arrived when it was added.
RECEIVED = b"received"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# A whole group is one command: a pipeline of XADDs costs the client a packed command and a
# parsed reply per delivery, several times the CPU of one script call carrying every body.
APPEND = f"""
for i = 1, #ARGV do
  redis.call('XADD', KEYS[1], '*', '{BODY.decode()}', ARGV[i])
end
return #ARGV
"""
# Bodies are at most 1 MiB each (the route refuses more): keep one command far below Redis's
# 512 MB argument and 1 GB query-buffer limits.
APPEND_MAX_BYTES = 8 * 1024 * 1024
Entry = tuple[bytes, dict[bytes, bytes]]
StreamReply = list[tuple[bytes, list[Entry]]] | None
# XAUTOCLAIM answers [next start id, claimed entries, ids deleted meanwhile]
AutoclaimReply = list[object]


class RedisStreamQueue:
    def __init__(
        self,
        redis: Redis,
        keys: RedisKeys,
        *,
        reclaim_after: float = 30.0,
        append_max_bytes: int = APPEND_MAX_BYTES,
    ) -> None:
        self._redis = redis
        self._append_script = redis.register_script(APPEND)
        self._append_max_bytes = append_max_bytes
        self._keys = keys
        self._reclaim_after_ms = int(reclaim_after * 1000)
        self._next_reclaim = 0.0
        self._group_ready = False
        self._writes: GroupCommit[bytes] = GroupCommit(self._append)

    async def put(self, body: bytes) -> None:
        await self._writes.submit(body)

    async def _append(self, bodies: Sequence[bytes]) -> None:
        for chunk in chunks_by_size(bodies, self._append_max_bytes):
            await self._append_script(keys=[self._keys.inbox], args=chunk)

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
        entries = [(entry_id, fields) for entry_id, fields in cast(list[Entry], reply[1]) if fields]
        if not entries:
            return []
        # XAUTOCLAIM counted this delivery; XPENDING tells how many times it has been taken
        # (asked entry by entry: a range could also hold this consumer's other pending entries).
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry_id, _ in entries:
                pipe.xpending_range(
                    self._keys.inbox, self._keys.inbox_group, min=entry_id, max=entry_id, count=1
                )
            pending = await pipe.execute()
        return [
            _delivery(entry_id, fields, int(found[0]["times_delivered"]) if found else 1)
            for (entry_id, fields), found in zip(entries, pending, strict=True)
        ]

    async def ack(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xack(self._keys.inbox, self._keys.inbox_group, *ids)
            pipe.xdel(self._keys.inbox, *ids)
            await pipe.execute()

    async def park(self, failed: Sequence[tuple[QueuedDelivery, str]]) -> None:
        if not failed:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            for delivery, error in failed:
                fields = {
                    BODY: delivery.body,
                    ATTEMPTS: delivery.attempts,
                    ERROR: error,
                    RECEIVED: _microseconds(delivery.received_at),
                }
                pipe.xadd(self._keys.inbox_parked, fields)  # type: ignore[arg-type]
            ids = [delivery.id for delivery, _ in failed]
            pipe.xack(self._keys.inbox, self._keys.inbox_group, *ids)
            pipe.xdel(self._keys.inbox, *ids)
            await pipe.execute()

    async def parked(self, limit: int) -> tuple[int, list[ParkedDelivery]]:
        count = int(await self._redis.xlen(self._keys.inbox_parked))
        entries = cast(list[Entry], await self._redis.xrange(self._keys.inbox_parked, count=limit))
        return count, [_parked(entry_id, fields) for entry_id, fields in entries]

    async def unpark(self) -> int:
        """Back into the inbox stream in chunks, each deleted from the parked stream once it is
        queued: a crash in between queues a delivery twice, and the comments' unique key makes
        the second copy change nothing. Each keeps when it first reached the queue."""
        moved = 0
        while entries := cast(
            list[Entry], await self._redis.xrange(self._keys.inbox_parked, count=500)
        ):
            async with self._redis.pipeline(transaction=False) as pipe:
                for entry_id, fields in entries:
                    received = _microseconds(_received_at(_text(entry_id), fields))
                    queued = {BODY: fields[BODY], RECEIVED: received}
                    pipe.xadd(self._keys.inbox, queued)  # type: ignore[arg-type]
                await pipe.execute()
            await self._redis.xdel(self._keys.inbox_parked, *[i for i, _ in entries])
            moved += len(entries)
        return moved

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


def chunks_by_size(bodies: Sequence[bytes], max_bytes: int) -> list[list[bytes]]:
    """`bodies` in order, cut into runs of at most `max_bytes` (a larger body runs alone)."""
    out: list[list[bytes]] = []
    size = max_bytes
    for body in bodies:
        if size + len(body) > max_bytes:
            out.append([])
            size = 0
        out[-1].append(body)
        size += len(body)
    return out


def _delivery(
    entry_id: bytes | str, fields: dict[bytes, bytes], attempts: int = 1
) -> QueuedDelivery:
    ident = _text(entry_id)
    return QueuedDelivery(ident, fields[BODY], _received_at(ident, fields), attempts)


def _parked(entry_id: bytes | str, fields: dict[bytes, bytes]) -> ParkedDelivery:
    ident = _text(entry_id)
    return ParkedDelivery(
        ident,
        fields[BODY],
        int(fields[ATTEMPTS]),
        fields[ERROR].decode(errors="replace"),
        _added_at(ident),
        _received_at(ident, fields),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _added_at(entry_id: str) -> datetime:
    """When an entry was added: its id starts with Redis's time in milliseconds."""
    return datetime.fromtimestamp(int(entry_id.split("-")[0]) / 1000, UTC)


def _received_at(entry_id: str, fields: dict[bytes, bytes]) -> datetime:
    """When the entry's delivery first reached the queue (a parked entry from before parked
    deliveries kept it: when it was parked)."""
    received = fields.get(RECEIVED)
    if received is None:
        return _added_at(entry_id)
    return _EPOCH + int(received) * _MICROSECOND


def _microseconds(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND

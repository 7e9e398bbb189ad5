"""Both delivery queues keep the same promises: durable put, batched take, ack, redelivery."""

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest

from bot.runtime import Runtime
from storage.db import create_engine
from storage.group_commit import GroupCommit
from storage.inbox import SqlInbox
from storage.redis_client import connect_redis
from storage.redis_keys import RedisKeys
from storage.stream import RedisStreamQueue, chunks_by_size


async def test_put_take_ack(runtime: Runtime) -> None:
    queue = runtime.queue
    await asyncio.gather(*(queue.put(f"d{n}".encode()) for n in range(50)))
    assert await queue.depth() == 50
    first = await queue.take("w1", 20, 0)
    assert [d.body for d in first] == [f"d{n}".encode() for n in range(20)]
    rest = await queue.take("w2", 100, 0)
    assert len(rest) == 30
    assert not {d.id for d in first} & {d.id for d in rest}
    await queue.ack([d.id for d in first + rest])
    assert await queue.depth() == 0
    assert await queue.take("w1", 10, 0) == []


async def test_take_waits_for_a_delivery(runtime: Runtime) -> None:
    async def later() -> None:
        await asyncio.sleep(0.2)
        await runtime.queue.put(b"late")

    task = asyncio.create_task(later())
    taken = await runtime.queue.take("w1", 10, 3.0)
    await task
    assert [d.body for d in taken] == [b"late"]


async def test_sql_inbox_gives_an_unacknowledged_delivery_back_after_its_lease(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    queue = SqlInbox(engine, lease=timedelta(milliseconds=300))
    await queue.put(b"x")
    (first,) = await queue.take("dies", 10, 0)
    assert await queue.take("other", 10, 0) == []
    await asyncio.sleep(0.4)
    (again,) = await queue.take("other", 10, 0)
    assert (again.id, again.body, again.attempts) == (first.id, first.body, 2)
    await queue.close()
    await engine.dispose()


async def test_redis_stream_lets_a_live_consumer_claim_a_dead_ones_entries(
    redis_url: str, redis_prefix: str
) -> None:
    redis = connect_redis(redis_url)
    queue = RedisStreamQueue(redis, RedisKeys(redis_prefix), reclaim_after=0.2)
    await queue.put(b"a")
    await queue.put(b"b")
    taken = await queue.take("dies", 10, 0)
    assert len(taken) == 2
    await asyncio.sleep(0.3)
    reclaimed = await queue.take("survivor", 10, 0)
    assert [(d.id, d.body, d.attempts) for d in reclaimed] == [(d.id, d.body, 2) for d in taken]
    await queue.ack([d.id for d in reclaimed])
    assert await queue.depth() == 0
    await queue.close()
    await redis.aclose()


async def test_group_commit_shares_writes_and_reports_failures() -> None:
    writes: list[int] = []

    async def write(items: object) -> None:
        assert isinstance(items, list)
        await asyncio.sleep(0.01)
        if "bad" in items:
            raise RuntimeError("disk full")
        writes.append(len(items))

    group: GroupCommit[str] = GroupCommit(write)
    await asyncio.gather(*(group.submit(str(n)) for n in range(200)))
    assert sum(writes) == 200
    assert len(writes) < 10  # many callers, few writes
    with pytest.raises(RuntimeError, match="disk full"):
        await asyncio.gather(group.submit("bad"), group.submit("ok"))
    await group.close()


async def test_closing_the_group_commit_writes_what_waits_first() -> None:
    written: list[str] = []

    async def write(items: Sequence[str]) -> None:
        await asyncio.sleep(0.01)
        written.extend(items)

    group: GroupCommit[str] = GroupCommit(write)
    callers = [asyncio.create_task(group.submit(str(n))) for n in range(50)]
    await asyncio.sleep(0)  # every caller is waiting, one write is in flight
    await group.close()
    async with asyncio.timeout(5):  # a caller left waiting would hang here
        await asyncio.gather(*callers)
    assert sorted(written, key=int) == [str(n) for n in range(50)]


def test_bodies_are_cut_into_runs_under_the_size_cap_in_order() -> None:
    bodies = [b"a" * 4, b"b" * 4, b"c" * 9, b"d" * 1, b"e" * 2]
    assert chunks_by_size(bodies, 8) == [[b"aaaa", b"bbbb"], [b"c" * 9], [b"d", b"ee"]]
    assert chunks_by_size([], 8) == []


async def test_redis_stream_keeps_a_group_in_order_across_size_cut_commands(
    redis_url: str, redis_prefix: str
) -> None:
    redis = connect_redis(redis_url)
    queue = RedisStreamQueue(redis, RedisKeys(redis_prefix), append_max_bytes=10)
    bodies = [f"delivery {n}".encode() for n in range(40)]  # 10-11 bytes: one per command
    await asyncio.gather(*(queue.put(body) for body in bodies))
    taken = await queue.take("w1", 100, 0)
    assert [d.body for d in taken] == bodies
    await queue.close()
    await redis.aclose()


async def test_parked_deliveries_leave_the_queue_and_come_back_on_unpark(
    runtime: Runtime,
) -> None:
    queue = runtime.queue
    for body in (b"ok", b"bad1", b"bad2"):
        await queue.put(body)
    taken = await queue.take("w1", 10, 0)
    assert [d.attempts for d in taken] == [1, 1, 1]
    await queue.ack([taken[0].id])
    await queue.park([(taken[1], "ValueError: one"), (taken[2], "ValueError: two")])
    assert await queue.depth() == 0
    assert await queue.take("w1", 10, 0) == []
    count, parked = await queue.parked(1)
    assert count == 2
    assert [(p.body, p.attempts, p.error) for p in parked] == [(b"bad1", 1, "ValueError: one")]
    assert parked[0].received_at == taken[1].received_at
    await asyncio.sleep(0.01)  # queued again later than they first arrived
    assert await queue.unpark() == 2
    assert (await queue.parked(10))[0] == 0
    again = await queue.take("w1", 10, 0)
    assert [d.body for d in again] == [b"bad1", b"bad2"]
    # Their comments keep their place in line (the waitlist goes by arrival).
    assert [d.received_at for d in again] == [d.received_at for d in taken[1:]]
    assert await queue.unpark() == 0


async def test_sql_inbox_counts_every_take_of_a_delivery(database_url: str) -> None:
    engine = create_engine(database_url)
    queue = SqlInbox(engine, lease=timedelta(milliseconds=50))
    await queue.put(b"x")
    for attempt in (1, 2, 3):
        (taken,) = await queue.take("w1", 10, 0)
        assert taken.attempts == attempt
        await asyncio.sleep(0.1)
    await queue.close()
    await engine.dispose()


async def test_redis_stream_counts_every_take_of_a_delivery(
    redis_url: str, redis_prefix: str
) -> None:
    redis = connect_redis(redis_url)
    queue = RedisStreamQueue(redis, RedisKeys(redis_prefix), reclaim_after=0.05)
    await queue.put(b"x")
    for attempt in (1, 2, 3):
        (taken,) = await queue.take(f"w{attempt}", 10, 0)
        assert taken.attempts == attempt
        await asyncio.sleep(0.1)
    await queue.close()
    await redis.aclose()

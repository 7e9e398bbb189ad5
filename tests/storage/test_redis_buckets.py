"""Token buckets in a real Redis, shared by several clients as by several processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from storage.redis_buckets import BucketsUnavailable, RedisBuckets
from storage.redis_keys import RedisKeys


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[list[Redis]]:
    """Two connections of their own: two processes' views of one Redis."""
    made = [Redis.from_url(redis_url) for _ in range(2)]
    try:
        yield made
    finally:
        for client in made:
            await client.aclose()


async def test_a_new_bucket_is_full_then_due_at_the_rate(
    clients: list[Redis], redis_prefix: str
) -> None:
    buckets = RedisBuckets(clients[0], RedisKeys(redis_prefix))
    assert [await buckets.take("page", 10.0, 3.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = await buckets.take("page", 10.0, 3.0)
    assert 0.05 < wait <= 0.1  # a tenth of a second a token, less what refilled meanwhile
    assert await buckets.take("other", 10.0, 3.0) == 0.0  # keys are apart
    await asyncio.sleep(wait)
    assert await buckets.take("page", 10.0, 3.0) == 0.0


async def test_two_clients_share_one_pace(clients: list[Redis], redis_prefix: str) -> None:
    keys = RedisKeys(redis_prefix)
    first, second = (RedisBuckets(client, keys) for client in clients)
    taken = 0
    started = time.monotonic()

    async def take_all_they_can(buckets: RedisBuckets) -> None:
        nonlocal taken
        while time.monotonic() - started < 0.6:
            wait = await buckets.take("page", 20.0, 2.0)
            if wait == 0:
                taken += 1
            else:
                await asyncio.sleep(min(wait, 0.01))

    await asyncio.gather(take_all_they_can(first), take_all_they_can(second))
    elapsed = time.monotonic() - started
    # One bucket for both: its burst, then 20 a second (two buckets would give twice that).
    assert taken <= 2 + 20 * elapsed + 1
    assert taken >= 2 + 20 * 0.6 * 0.7  # and not much slower


async def test_a_bucket_left_to_fill_up_is_forgotten(
    clients: list[Redis], redis_prefix: str
) -> None:
    keys = RedisKeys(redis_prefix)
    buckets = RedisBuckets(clients[0], keys)
    await buckets.take("page", 100.0, 2.0)
    # Full again within 10 ms: the key is kept a second longer than that, then expires.
    ttl = await clients[0].pttl(keys.rate("page"))
    assert 1000 <= ttl <= 1020
    # A missing key reads as a full bucket: forgetting it changes nothing.
    await clients[0].delete(keys.rate("page"))
    assert [await buckets.take("page", 100.0, 2.0) for _ in range(2)] == [0.0, 0.0]


async def test_an_unreachable_redis_is_one_clear_error() -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        buckets = RedisBuckets(client, RedisKeys("nowhere"))
        with pytest.raises(BucketsUnavailable, match="pace of page"):
            await buckets.take("page", 10.0, 1.0)
    finally:
        await client.aclose()


async def test_a_redis_that_does_not_answer_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """A listener that accepts the connection and never answers: the take ends, clearly."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client hangs up

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr("storage.redis_buckets.TAKE_TIMEOUT", 0.3)
    client = Redis.from_url(f"redis://127.0.0.1:{port}/0")
    try:
        buckets = RedisBuckets(client, RedisKeys("silent"))
        started = time.monotonic()
        with pytest.raises(BucketsUnavailable, match="pace of page: no answer in time"):
            # Bounded here too: without its own time limit, the take would wait for ever.
            await asyncio.wait_for(buckets.take("page", 10.0, 1.0), timeout=5)
        assert time.monotonic() - started < 2.0
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()

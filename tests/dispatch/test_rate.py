"""Token buckets on an injected clock: no sleeping, no wall time."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.dispatch.rate import (
    MAX_NAP,
    LocalBuckets,
    Pace,
    RateLimiter,
    TokenBucket,
    hourly_pace,
    pace_for,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.naps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def test_a_full_bucket_allows_its_burst_then_one_per_interval() -> None:
    pace = Pace(rate=10, burst=3)
    bucket = TokenBucket(now=0.0, tokens=3)
    assert [bucket.try_take(0.0, pace) for _ in range(3)] == [0, 0, 0]
    assert bucket.try_take(0.0, pace) == pytest.approx(0.1)
    assert bucket.try_take(0.05, pace) == pytest.approx(0.05)
    assert bucket.try_take(0.1, pace) == 0


def test_a_quiet_bucket_never_holds_more_than_its_burst() -> None:
    pace = Pace(rate=10, burst=2)
    bucket = TokenBucket(now=0.0, tokens=0)
    taken = [bucket.try_take(100.0, pace) for _ in range(3)]
    assert taken[:2] == [0, 0]
    assert taken[2] > 0


def test_a_slower_pace_applies_at_once() -> None:
    bucket = TokenBucket(now=0.0, tokens=0)
    assert bucket.try_take(0.0, Pace(rate=10, burst=1)) == pytest.approx(0.1)
    assert bucket.try_take(0.0, Pace(rate=5, burst=1)) == pytest.approx(0.2)


def test_pace_for_never_bursts_below_one_send() -> None:
    assert pace_for(40, 0.1) == Pace(40, 4)
    assert pace_for(2, 0.1) == Pace(2, 1)
    with pytest.raises(ValueError, match="rate > 0"):
        Pace(0, 1)


async def test_the_limiter_spaces_sends_of_one_key_and_keeps_keys_apart() -> None:
    clock = FakeClock()
    limiter = RateLimiter(LocalBuckets(clock), sleep=clock.sleep)
    moments: dict[str, list[float]] = {"a": [], "b": []}

    async def send(key: str) -> None:
        assert await limiter.acquire(key, lambda: Pace(rate=20, burst=2))
        moments[key].append(clock.now)

    await asyncio.gather(*(send("a") for _ in range(12)), *(send("b") for _ in range(2)))
    assert moments["a"][:2] == [0.0, 0.0]  # the burst
    gaps = [later - earlier for earlier, later in itertools.pairwise(moments["a"][2:])]
    assert all(gap == pytest.approx(0.05) for gap in gaps)
    assert moments["a"][-1] == pytest.approx(0.5)
    assert max(moments["b"]) <= 0.05 + 1e-9  # "b" never queued behind "a"


async def test_a_waiter_gives_up_when_told_and_never_naps_long() -> None:
    clock = FakeClock()
    limiter = RateLimiter(LocalBuckets(clock), sleep=clock.sleep)
    assert await limiter.acquire("a", lambda: Pace(rate=1, burst=1))
    held = False

    def give_up() -> bool:
        return held

    async def hold_soon() -> None:
        nonlocal held
        while clock.now < 0.3:
            await asyncio.sleep(0)
        held = True

    holder = asyncio.create_task(hold_soon())
    assert not await limiter.acquire("a", lambda: Pace(rate=1, burst=1), give_up=give_up)
    await holder
    assert clock.now < 1.0  # gave up before the token was due
    assert max(clock.naps) <= MAX_NAP


@pytest.mark.parametrize("per_hour", [750, 100, 16, 1])
def test_an_hourly_pace_never_passes_its_limit_in_any_hour(per_hour: int) -> None:
    """A sender that takes every token as soon as it is due, for ten hours: no hour-long window,
    wherever it starts, holds more than the limit, and the hours after the first are nearly full."""
    pace = hourly_pace(per_hour)
    bucket = TokenBucket(now=0.0, tokens=pace.burst)
    now, sent = 0.0, []
    while now < 10 * 3600:
        wait = bucket.try_take(now, pace)
        if wait == 0:
            sent.append(now)
        now += wait
    window_start = 0
    for index, moment in enumerate(sent):
        while sent[window_start] <= moment - 3600:
            window_start += 1
        assert index - window_start + 1 <= per_hour, moment
    last_hours = [moment for moment in sent if moment >= 9 * 3600]
    assert len(last_hours) >= per_hour * 0.9 - 1

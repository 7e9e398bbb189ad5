"""Token buckets: at most `rate` sends per second per key (a Page, an Instagram account), with
short bursts of up to `burst`.

`TokenBucket` is pure (the caller passes the time). The buckets live in this process
(`LocalBuckets`, on an injected clock) or in Redis, shared by every process that sends
(`storage.redis_buckets.RedisBuckets`). `RateLimiter` makes callers wait their turn at a key's
bucket, first come first served within the process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

# A waiter wakes at least this often to notice that it should give up (a held Page, a stop).
MAX_NAP = 0.1
# Refill arithmetic leaves 0.9999999...: that is a whole token, not a wait of 1e-17 s.
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Pace:
    """How fast one key may go right now."""

    rate: float  # sends per second
    burst: float  # sends allowed at once after a quiet spell (at least 1)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError(f"a pace needs rate > 0 and burst >= 1 (got {self})")


def pace_for(rate: float, burst_seconds: float) -> Pace:
    """The pace at `rate` whose burst is `burst_seconds` worth of sends (never below one)."""
    return Pace(rate, max(1.0, rate * burst_seconds))


def hourly_pace(per_hour: int) -> Pace:
    """A pace that never sends more than `per_hour` in any hour, however the hour is cut: a
    bucket allows its burst plus its rate times the window, so the rate is what the burst
    leaves over (a fifteenth of the limit, at least 1, goes in a burst)."""
    burst = max(1, per_hour // 15)
    return Pace(max(per_hour - burst, 1) / 3600, burst)


class TokenBucket:
    """Tokens refill at the pace's rate up to its burst; a send takes one."""

    __slots__ = ("_tokens", "_updated")

    def __init__(self, now: float, tokens: float = 1.0) -> None:
        self._tokens = tokens
        self._updated = now

    def try_take(self, now: float, pace: Pace) -> float:
        """Take a token and return 0, or take nothing and return the seconds until one is due.

        The pace is given on every call, so a slowed Page's bucket refills slower at once.
        """
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(pace.burst, self._tokens + elapsed * pace.rate)
        self._updated = now
        if self._tokens >= 1.0 - _EPSILON:
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / pace.rate


class Buckets(Protocol):
    """Where a key's bucket is kept."""

    async def take(self, key: str, rate: float, burst: float) -> float:
        """Take a token and return 0, or take nothing and return the seconds until one is due;
        a bucket seen for the first time is full."""
        ...


class LocalBuckets:
    """Buckets of this process only: each process sending for an account keeps its own pace."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    async def take(self, key: str, rate: float, burst: float) -> float:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(now, burst)
        return bucket.try_take(now, Pace(rate, burst))


class RateLimiter:
    def __init__(
        self, buckets: Buckets, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        self._buckets = buckets
        self._sleep = sleep
        self._turns: dict[str, asyncio.Lock] = {}

    async def acquire(
        self,
        key: str,
        pace: Callable[[], Pace],
        *,
        give_up: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Wait for a token of `key`'s bucket; False when `give_up()` turned true meanwhile.

        Waiters queue on a lock, so they are served in arrival order and only the first one
        asks the bucket. `pace` is read again on every wake: a change applies at once.
        """
        turn = self._turns.setdefault(key, asyncio.Lock())
        async with turn:
            while not give_up():
                current = pace()
                wait = await self._buckets.take(key, current.rate, current.burst)
                if wait <= 0:
                    return True
                await self._sleep(min(wait, MAX_NAP))
            return False

"""Token buckets in Redis: one pace per key shared by every process that sends (with REDIS_URL).

Each take is one script call that refills the bucket by Redis's own clock (so processes on
different machines agree on the time), then takes a token or says how long until one is due.
A bucket left alone until it is full again has nothing to remember: its key expires then, and a
missing key reads as a full bucket.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from redis.exceptions import RedisError

from storage.redis_keys import RedisKeys

# ARGV: rate (tokens a second), burst (at most this many saved up). Returns the seconds until a
# token is due (as text: Redis would cut a Lua number to an integer), "0" when one was taken.
TAKE = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens, updated = tonumber(saved[1]), tonumber(saved[2])
if tokens == nil or updated == nil then
  tokens, updated = burst, now
end
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
local wait = 0
if tokens >= 1 - 1e-9 then
  tokens = math.max(0, tokens - 1)
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'updated', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return tostring(wait)
"""


# A take that Redis has not answered in this long is given up: the reply waits, untried, rather
# than hold its account's queue (and its lease) for as long as Redis hangs.
TAKE_TIMEOUT = 2.0


class BucketsUnavailable(RuntimeError):
    """Redis could not be asked whether a send may go."""


class RedisBuckets:
    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self._keys = keys
        self._take = redis.register_script(TAKE)

    async def take(self, key: str, rate: float, burst: float) -> float:
        """Take a token of `key`'s bucket and return 0, or the seconds until one is due."""
        try:
            async with asyncio.timeout(TAKE_TIMEOUT):
                wait = await self._take(keys=[self._keys.rate(key)], args=[rate, burst])
        except (RedisError, TimeoutError) as error:
            problem = (
                f"Redis did not answer for the pace of {key}: {str(error) or 'no answer in time'}"
            )
            raise BucketsUnavailable(problem) from error
        return float(wait)

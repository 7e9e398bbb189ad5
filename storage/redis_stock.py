"""Redis stock counters: the fast gate in front of the SQL ledger (with REDIS_URL).

One Lua script call per SKU checks and takes atomically for every request of a batch, all calls
pipelined in one round trip. Takes are keyed by request ref, so a retried batch takes nothing
twice. A missing counter reads as "not loaded": it is loaded from SQL and the call retried.
Redis only gates: SQL's conditional UPDATE still decides, and when it grants less than Redis did,
the counter is dropped and reloaded from SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from redis.asyncio import Redis
from sqlalchemy import select

from storage.db import SessionFactory
from storage.models import Sku
from storage.redis_keys import RedisKeys
from storage.stock import AVAILABLE, StockRequest, by_sku

NOT_LOADED = -1

# What each ref holds is remembered for two days (172800 s), so a batch run again after a
# rollback takes nothing twice: asking again with a ref tops its units up to the quantity asked
# (or gives back what it holds beyond it). A ref that holds nothing is not remembered: a
# waitlist entry offered nothing now must get the next unit that comes back.
TAKE = """
local available = redis.call('GET', KEYS[1])
if not available then return {-1} end
available = tonumber(available)
local granted = {}
for i = 1, #ARGV, 2 do
  local ref, want = ARGV[i], tonumber(ARGV[i + 1])
  local held = tonumber(redis.call('HGET', KEYS[2], ref) or 0)
  local take = math.min(want, held + math.max(available, 0))
  available = available - (take - held)
  if take > 0 then
    redis.call('HSET', KEYS[2], ref, take)
  elseif held > 0 then
    redis.call('HDEL', KEYS[2], ref)
  end
  granted[#granted + 1] = take
end
redis.call('SET', KEYS[1], available)
redis.call('EXPIRE', KEYS[2], 172800)
return granted
"""

# Gives units back once per ref; a counter that is not loaded stays unloaded (SQL has it).
RELEASE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local given = 0
for i = 1, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
    given = given + tonumber(ARGV[i + 1])
  end
end
redis.call('INCRBY', KEYS[1], given)
redis.call('EXPIRE', KEYS[2], 172800)
return given
"""


# Undoes a take whose transaction rolled back: the ref's units return to the counter (an
# unloaded counter stays unloaded: SQL never reserved them).
UNTAKE = """
local exists = redis.call('EXISTS', KEYS[1]) == 1
local given = 0
for i = 1, #ARGV do
  local held = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or 0)
  if held > 0 then
    redis.call('HDEL', KEYS[2], ARGV[i])
    given = given + held
  end
end
if exists and given > 0 then redis.call('INCRBY', KEYS[1], given) end
return given
"""

SHIFT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""


class RedisStockGate:
    def __init__(self, redis: Redis, keys: RedisKeys, sessions: SessionFactory) -> None:
        self._redis = redis
        self._keys = keys
        self._sessions = sessions
        self._take = redis.register_script(TAKE)
        self._release = redis.register_script(RELEASE)
        self._untake = redis.register_script(UNTAKE)
        self._shift = redis.register_script(SHIFT)

    async def take(self, requests: Sequence[StockRequest]) -> dict[str, int]:
        """Units granted per ref, first come first served per SKU."""
        queues = by_sku(requests)
        granted: dict[str, int] = {}
        replies = await self._run_takes(queues)
        missing = [sku for sku, reply in replies.items() if reply == [NOT_LOADED]]
        if missing:
            await self.load(missing)
            replies.update(await self._run_takes({sku: queues[sku] for sku in missing}))
        for sku, reply in replies.items():
            if reply == [NOT_LOADED]:
                reply = [0] * len(queues[sku])  # the SKU is unknown to SQL: nothing to take
            granted.update(
                {request.ref: int(units) for request, units in zip(queues[sku], reply, strict=True)}
            )
        return granted

    async def give_back(self, requests: Sequence[StockRequest], reason: str) -> None:
        """Released units return to the counters, once per ref."""
        queues = by_sku(r for r in requests if r.quantity > 0)
        if not queues:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for sku, queue in queues.items():
                args = [value for r in queue for value in (f"{reason}:{r.ref}", r.quantity)]
                await self._release(
                    keys=[self._keys.stock(sku), self._keys.stock_releases(sku)],
                    args=args,
                    client=pipe,
                )
            await pipe.execute()

    async def untake(self, takes: Sequence[StockRequest]) -> None:
        """Give back what these takes' refs hold (their transaction rolled back), and forget
        the refs."""
        queues = by_sku(takes)
        if not queues:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for sku, queue in queues.items():
                await self._untake(
                    keys=[self._keys.stock(sku), self._keys.stock_takes(sku)],
                    args=[r.ref for r in queue],
                    client=pipe,
                )
            await pipe.execute()

    async def shift(self, sku: str, change: int) -> None:
        """Move a loaded counter by `change` (an unloaded one will load from SQL)."""
        await self._shift(keys=[self._keys.stock(sku)], args=[change])

    async def forget(self, skus: Sequence[str]) -> None:
        """Drop counters SQL disagrees with; the next take reloads them from SQL."""
        if skus:
            await self._redis.delete(*(self._keys.stock(sku) for sku in skus))

    async def load(self, skus: Sequence[str] | None = None) -> int:
        """Set counters from SQL's committed stock (all SKUs, or these); returns how many."""
        async with self._sessions() as session:
            query = select(Sku.sku, AVAILABLE)
            if skus is not None:
                query = query.where(Sku.sku.in_(list(skus)))
            rows = (await session.execute(query)).all()
        async with self._redis.pipeline(transaction=False) as pipe:
            for sku, available in rows:
                # NX: a counter some worker loaded meanwhile is already right.
                pipe.set(self._keys.stock(sku), max(int(available), 0), nx=skus is not None)
            await pipe.execute()
        return len(rows)

    async def counters(self, skus: Sequence[str]) -> Mapping[str, int | None]:
        values = await self._redis.mget([self._keys.stock(sku) for sku in skus])
        return {sku: None if v is None else int(v) for sku, v in zip(skus, values, strict=True)}

    async def _run_takes(self, queues: Mapping[str, list[StockRequest]]) -> dict[str, list[int]]:
        if not queues:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for sku, queue in queues.items():
                args: list[str | int] = [v for r in queue for v in (r.ref, r.quantity)]
                await self._take(
                    keys=[self._keys.stock(sku), self._keys.stock_takes(sku)],
                    args=args,
                    client=pipe,
                )
            replies = await pipe.execute()
        return {sku: [int(v) for v in reply] for sku, reply in zip(queues, replies, strict=True)}

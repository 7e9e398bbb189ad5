"""Stock on both backends (SQL alone, Redis in front of SQL) and both databases."""

import asyncio
import random
import sqlite3
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from redis.asyncio import Redis
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from storage import stock
from storage.db import SessionFactory, create_engine, session_factory
from storage.models import Sku, StockMove
from storage.redis_client import connect_redis
from storage.redis_keys import RedisKeys
from storage.redis_stock import RedisStockGate
from storage.stock import StockRefused, StockRequest
from storage.stock_backends import RedisStock, SqlStock, Stock


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url, pool_size=20)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture(params=["sql", "redis"])
def stock_redis(request: pytest.FixtureRequest) -> tuple[str, str] | None:
    """None for the SQL backend; Redis's URL and this test's key prefix for the Redis one."""
    if request.param == "sql":
        return None
    return request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")


@pytest.fixture
async def stock_backend(
    stock_redis: tuple[str, str] | None, sessions: SessionFactory
) -> AsyncIterator[Stock]:
    if stock_redis is None:
        yield SqlStock()
        return
    redis = connect_redis(stock_redis[0])
    yield RedisStock(RedisStockGate(redis, RedisKeys(stock_redis[1]), sessions))
    await redis.aclose()


async def add_sku(sessions: SessionFactory, sku: str, on_hand: int) -> None:
    """A new SKU whose stock arrives, like all stock, through the ledger."""
    async with sessions.begin() as session:
        session.add(Sku(sku=sku, name=sku, price=Decimal(100)))
        await session.flush()
        await stock.adjust_on_hand(
            session, sku, delta=on_hand, on_hand=None, reference=f"initial-{sku}", reason="adjust"
        )


async def counters(sessions: SessionFactory, sku: str) -> tuple[int, int, int]:
    async with sessions() as session:
        row = (
            await session.execute(select(Sku.on_hand, Sku.reserved, Sku.sold).where(Sku.sku == sku))
        ).one()
    return (row[0], row[1], row[2])


async def ledger(sessions: SessionFactory, sku: str) -> tuple[int, int, int]:
    async with sessions() as session:
        row = (
            await session.execute(
                select(
                    func.coalesce(func.sum(StockMove.on_hand_delta), 0),
                    func.coalesce(func.sum(StockMove.reserved_delta), 0),
                    func.coalesce(func.sum(StockMove.sold_delta), 0),
                ).where(StockMove.sku == sku)
            )
        ).one()
    return (int(row[0]), int(row[1]), int(row[2]))


async def take_one(sessions: SessionFactory, backend: Stock, ref: str, sku: str = "HOT") -> int:
    async with sessions.begin() as session:
        granted = await backend.reserve(session, [StockRequest(ref, sku, 1)])
    return granted[ref]


async def test_2000_buyers_for_50_units_sell_exactly_50(
    sessions: SessionFactory, stock_backend: Stock
) -> None:
    await add_sku(sessions, "HOT", 50)
    results = await asyncio.gather(
        *(take_one(sessions, stock_backend, f"c{i}") for i in range(2000))
    )
    assert sum(results) == 50
    assert await counters(sessions, "HOT") == (50, 50, 0)
    assert await ledger(sessions, "HOT") == (50, 50, 0)


async def test_first_come_first_served_within_a_batch_and_partial_takes(
    sessions: SessionFactory, stock_backend: Stock
) -> None:
    await add_sku(sessions, "A1", 5)
    await add_sku(sessions, "B3", 100)
    requests = [
        StockRequest("a", "A1", 2),
        StockRequest("b", "B3", 7),
        StockRequest("c", "A1", 2),
        StockRequest("d", "A1", 2),
        StockRequest("e", "A1", 1),
    ]
    async with sessions.begin() as session:
        granted = await stock_backend.reserve(session, requests)
    assert granted == {"a": 2, "b": 7, "c": 2, "d": 1, "e": 0}
    assert await counters(sessions, "A1") == (5, 5, 0)


async def test_concurrent_batches_naming_many_skus_take_exactly_the_stock(
    sessions: SessionFactory, stock_backend: Stock
) -> None:
    """Batches naming several SKUs, in any order, race for the last units of each: on
    PostgreSQL the SKUs with enough go in one statement, the rest one by one; none deadlocks
    and none oversells."""
    skus = [f"S{n}" for n in range(6)]
    for sku in skus:
        await add_sku(sessions, sku, 10)
    rng = random.Random(5)
    batches = [rng.sample(skus, len(skus)) for _ in range(40)]

    async def take(n: int, named: list[str]) -> dict[str, int]:
        async with sessions.begin() as session:
            requests = [StockRequest(f"b{n}:{sku}", sku, 1 + n % 2) for sku in named]
            return await stock_backend.reserve(session, requests)

    granted = await asyncio.gather(*(take(n, named) for n, named in enumerate(batches)))
    for sku in skus:
        assert sum(g[f"b{n}:{sku}"] for n, g in enumerate(granted)) == 10
        assert await counters(sessions, sku) == (10, 10, 0)
        assert await ledger(sessions, sku) == (10, 10, 0)


async def test_release_and_sell_move_units_and_the_ledger_follows(
    sessions: SessionFactory, stock_backend: Stock
) -> None:
    await add_sku(sessions, "C7", 10)
    async with sessions.begin() as session:
        await stock_backend.reserve(session, [StockRequest("x", "C7", 6)])
    async with sessions.begin() as session:
        await stock_backend.release(session, [StockRequest("x", "C7", 2)], "cancel")
        await stock_backend.sell(session, [StockRequest("x", "C7", 3)])
    assert await counters(sessions, "C7") == (10, 1, 3)
    assert await ledger(sessions, "C7") == (10, 1, 3)
    async with sessions.begin() as session:
        granted = await stock_backend.reserve(session, [StockRequest("y", "C7", 10)])
    assert granted == {"y": 6}


async def test_a_flushed_redis_is_rebuilt_and_nothing_is_oversold(
    sessions: SessionFactory, redis_url: str, redis_prefix: str
) -> None:
    await add_sku(sessions, "HOT", 50)
    redis = connect_redis(redis_url)
    gate = RedisStockGate(redis, RedisKeys(redis_prefix), sessions)
    backend = RedisStock(gate)
    await gate.load()

    async def flush_now_and_then() -> None:
        for _ in range(5):
            await asyncio.sleep(random.uniform(0.01, 0.05))
            await _flush(redis, redis_prefix)

    flusher = asyncio.create_task(flush_now_and_then())
    results = await asyncio.gather(*(take_one(sessions, backend, f"c{i}") for i in range(1500)))
    await flusher
    assert sum(results) == 50
    assert await counters(sessions, "HOT") == (50, 50, 0)
    assert (await gate.counters(["HOT"]))["HOT"] in (0, None)
    await redis.aclose()


async def _flush(redis: Redis, prefix: str) -> None:
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
async def gate(
    sessions: SessionFactory, redis_url: str, redis_prefix: str
) -> AsyncIterator[RedisStockGate]:
    redis = connect_redis(redis_url)
    yield RedisStockGate(redis, RedisKeys(redis_prefix), sessions)
    await redis.aclose()


async def test_a_repeated_take_ref_takes_nothing_twice_in_redis(
    sessions: SessionFactory, gate: RedisStockGate
) -> None:
    await add_sku(sessions, "A2", 3)
    first = await gate.take([StockRequest("c1", "A2", 2)])
    again = await gate.take([StockRequest("c1", "A2", 2)])
    assert first == again == {"c1": 2}
    assert (await gate.counters(["A2"]))["A2"] == 1


async def test_a_take_ref_holds_only_what_it_was_last_granted_in_redis(
    sessions: SessionFactory, gate: RedisStockGate
) -> None:
    await add_sku(sessions, "A2", 3)
    assert await gate.take([StockRequest("c1", "A2", 3), StockRequest("w1", "A2", 1)]) == {
        "c1": 3,
        "w1": 0,
    }
    await gate.give_back([StockRequest("c1", "A2", 1)], "cancel")
    # Offered nothing before, so nothing was remembered: the unit that came back is w1's.
    assert await gate.take([StockRequest("w1", "A2", 1)]) == {"w1": 1}
    # Asked again for less (a batch run again after a cancel): the rest goes back.
    assert await gate.take([StockRequest("c1", "A2", 2)]) == {"c1": 2}
    assert (await gate.counters(["A2"]))["A2"] == 1
    # And for more: topped up from what is free, never twice.
    assert await gate.take([StockRequest("c1", "A2", 5)]) == {"c1": 3}
    assert (await gate.counters(["A2"]))["A2"] == 0


class Abandoned(Exception):
    """Raised inside a transaction to roll it back."""


async def test_units_taken_in_a_rolled_back_transaction_are_offered_again(
    sessions: SessionFactory, stock_backend: Stock
) -> None:
    """A batch that fails after its take (its comment is then marked failed, or decided
    otherwise) must not keep those units in Redis: SQL never reserved them."""
    await add_sku(sessions, "R1", 3)
    with pytest.raises(Abandoned):
        async with sessions.begin() as session:
            assert await stock_backend.reserve(session, [StockRequest("c:lost:0", "R1", 3)]) == {
                "c:lost:0": 3
            }
            raise Abandoned
    assert await counters(sessions, "R1") == (3, 0, 0)
    await stock_backend.settle()  # as a process does before it stops
    if isinstance(stock_backend, RedisStock):
        assert await stock_backend.gate.counters(["R1"]) == {"R1": 3}
    assert [await take_one(sessions, stock_backend, f"c{i}", "R1") for i in range(4)] == [
        1,
        1,
        1,
        0,
    ]
    assert await counters(sessions, "R1") == (3, 3, 0)


# pysqlite's own transaction handling lets RELEASE SAVEPOINT commit (SQLAlchemy documents the
# workaround); livecart takes no savepoints, so this guards the Redis bookkeeping on PostgreSQL.
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_units_taken_in_a_savepoint_go_back_when_the_transaction_rolls_back(
    sessions: SessionFactory, stock_backend: Stock
) -> None:
    await add_sku(sessions, "R3", 2)
    with pytest.raises(Abandoned):
        async with sessions.begin() as session:
            async with session.begin_nested():
                await stock_backend.reserve(session, [StockRequest("c:nested:0", "R3", 2)])
            raise Abandoned
    assert [await take_one(sessions, stock_backend, f"c{i}", "R3") for i in range(3)] == [1, 1, 0]


async def test_a_take_rolled_back_in_one_process_and_committed_in_another_never_oversells(
    sessions: SessionFactory, stock_backend: Stock, stock_redis: tuple[str, str] | None
) -> None:
    """A batch rolled back in one worker process and run again by another: the first gives the
    ref's units back after the second committed them. Redis then counts too many, and SQL,
    which decides, refuses them."""
    redis = None if stock_redis is None else connect_redis(stock_redis[0])
    other: Stock = (
        SqlStock()
        if redis is None or stock_redis is None
        else RedisStock(RedisStockGate(redis, RedisKeys(stock_redis[1]), sessions))
    )
    await add_sku(sessions, "R2", 2)
    with pytest.raises(Abandoned):
        async with sessions.begin() as session:
            await stock_backend.reserve(session, [StockRequest("c:twice:0", "R2", 2)])
            raise Abandoned
    async with sessions.begin() as session:
        assert await other.reserve(session, [StockRequest("c:twice:0", "R2", 2)]) == {
            "c:twice:0": 2
        }
    later = [
        await take_one(sessions, backend, f"c{i}{n}", "R2")
        for i in range(3)
        for n, backend in enumerate((stock_backend, other))
    ]
    assert sum(later) == 0
    assert await counters(sessions, "R2") == (2, 2, 0)
    if redis is not None:
        await redis.aclose()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_an_adjustment_rechecks_units_reserved_after_it_read_the_stock(
    database_url: str,
) -> None:
    """SQLite reads outside the write transaction: a batch can reserve units between an
    adjustment's read of the stock and its update."""
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    await add_sku(sessions, "B3", 4)
    path = database_url.removeprefix("sqlite+aiosqlite:///")
    raced: list[str] = []

    def reserve_in_between(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("UPDATE skus SET on_hand") and not raced:
            raced.append(statement)
            with sqlite3.connect(path) as other:
                other.execute("UPDATE skus SET reserved = reserved + 3 WHERE sku = 'B3'")

    event.listen(engine.sync_engine, "before_cursor_execute", reserve_in_between)
    with pytest.raises(StockRefused, match="1 unit"):
        async with sessions.begin() as session:
            await stock.adjust_on_hand(
                session, "B3", delta=-2, on_hand=None, reference="pos-2", reason="adjust"
            )
    assert raced
    assert await counters(sessions, "B3") == (4, 3, 0)
    assert await ledger(sessions, "B3") == (4, 0, 0)  # nothing recorded that did not happen
    await engine.dispose()


async def test_adjustments_cannot_take_reserved_units(sessions: SessionFactory) -> None:
    await add_sku(sessions, "B3", 4)
    async with sessions.begin() as session:
        await stock.reserve(session, [StockRequest("r", "B3", 3)])
    async with sessions.begin() as session:
        with pytest.raises(StockRefused, match="1 unit"):
            await stock.adjust_on_hand(
                session, "B3", delta=-2, on_hand=None, reference="pos-1", reason="adjust"
            )
    async with sessions.begin() as session:
        assert (
            await stock.adjust_on_hand(
                session, "B3", delta=None, on_hand=10, reference="count-1", reason="adjust"
            )
            == 6
        )
    assert await counters(sessions, "B3") == (10, 3, 0)


async def test_a_ledger_reference_is_applied_once(sessions: SessionFactory) -> None:
    await add_sku(sessions, "B3", 4)
    async with sessions.begin() as session:
        await stock.adjust_on_hand(
            session, "B3", delta=5, on_hand=None, reference="pos-7", reason="adjust"
        )
    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            await stock.adjust_on_hand(
                session, "B3", delta=5, on_hand=None, reference="pos-7", reason="adjust"
            )
    assert await counters(sessions, "B3") == (9, 0, 0)
    assert await ledger(sessions, "B3") == (9, 0, 0)

"""Several workers on one PostgreSQL database (the scaled-out setup): batches that meet the same
new buyers in opposite orders go through whole, and a batch that loses a deadlock to another
transaction runs again whole instead of falling back to one comment at a time.

SQLite runs one writer at a time, so its batches never interleave; these run on PostgreSQL."""

import asyncio
import logging
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import func, select

from bot.cart import Item
from bot.fakes.meta_webhooks import envelope, signed_body
from bot.pipeline import Pipeline
from bot.processing import CommentProcessor
from bot.reviews import decide_now
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from storage.models import Comment, Live, OrderLine, ReviewItem, Sku, WaitlistEntry
from storage.queue import QueuedDelivery
from storage.stock_backends import RedisStock
from storage.types import utcnow
from tests.pipeline import PAGE, VIDEO, comment_changes, comment_on, start_test_live
from tests.test_ordering import cart

SKU = "A1-RED-M"  # 20 in stock in the test lineup, at most 5 per buyer
ORDER = "A1 紅 M +1"


@pytest.fixture(params=["sql", "redis"])
def settings(postgres_url: str, request: pytest.FixtureRequest) -> Settings:
    """PostgreSQL, with the SQL stock or with Redis's counters in front of it."""
    if request.param == "sql":
        return Settings(database_url=postgres_url)
    return Settings(
        database_url=postgres_url,
        redis_url=request.getfixturevalue("redis_url"),
        redis_prefix=request.getfixturevalue("redis_prefix"),
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with open_runtime(settings, migrate=False) as runtime:
        yield runtime


def delivery(ident: str, authored: list[tuple[str, str]], start: int) -> QueuedDelivery:
    changes = comment_changes(authored, start=start)
    body = signed_body(envelope("page", [(PAGE, changes)]), "x")[0]
    return QueuedDelivery(ident, body, utcnow())


async def processed_comments(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        query = select(func.count()).select_from(Comment).where(Comment.status == "processed")
        return int(await session.scalar(query) or 0)


async def units(runtime: Runtime) -> tuple[int, int, int]:
    """(reserved on the SKU, units in order lines, units waiting)."""
    async with runtime.sessions() as session:
        reserved = await session.scalar(select(Sku.reserved).where(Sku.sku == SKU))
        lines = await session.scalar(select(func.sum(OrderLine.quantity)))
        waiting = await session.scalar(select(func.sum(WaitlistEntry.quantity)))
    return int(reserved or 0), int(lines or 0), int(waiting or 0)


async def test_batches_of_the_same_buyers_in_opposite_orders_go_through_whole(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    await start_test_live(runtime)
    buyers = [f"buyer-{n}" for n in range(300)]
    orders = [buyers, buyers[::-1], buyers[1::2] + buyers[::2], buyers[::-2] + buyers[-2::-2]]
    with caplog.at_level(logging.INFO, logger="livecart.pipeline"):
        for round_ in range(3):  # new buyers first, then the same buyers' carts again
            batches = [
                delivery(
                    f"{round_}-{n}", [(b, ORDER) for b in order], start=(4 * round_ + n) * 1000
                )
                for n, order in enumerate(orders)
            ]
            await asyncio.gather(*(Pipeline.for_runtime(runtime).handle([b]) for b in batches))
    said = [record.getMessage() for record in caplog.records]
    assert not [m for m in said if "race" in m or "isolating" in m], said
    assert await processed_comments(runtime) == 3 * 4 * 300
    # Each buyer asked 12 times; max_per_buyer (5) counts waiting units too.
    assert await units(runtime) == (20, 20, 300 * 5 - 20)


async def test_a_batch_that_loses_a_deadlock_runs_again_whole(
    runtime: Runtime, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await start_test_live(runtime)
    other = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        # The other transaction checks for deadlocks late, so the batch is the one rolled back.
        await other.execute("SET deadlock_timeout = '20s'")
        transaction = other.transaction()
        await transaction.start()
        await other.execute("SELECT 1 FROM skus WHERE sku = $1 FOR UPDATE", SKU)
        with caplog.at_level(logging.INFO, logger="livecart.pipeline"):
            batch = asyncio.create_task(
                Pipeline.for_runtime(runtime).handle(
                    [delivery("1", [("amy", ORDER), ("ben", ORDER)], start=1)]
                )
            )
            # The batch has stored its comments and waits for the SKU row this one holds...
            while not await other.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"):
                await asyncio.sleep(0.02)
            # ...and this one now waits for the batch's first comment: a deadlock.
            touch = asyncio.create_task(
                other.execute(
                    "INSERT INTO comments (platform, comment_id, verb, field, page_id,"
                    " received_at, source, status) VALUES ('facebook', $1, 'add', 'feed', $2,"
                    " now(), 'webhook', 'received') ON CONFLICT DO NOTHING",
                    f"{VIDEO}_1",
                    PAGE,
                )
            )
            await asyncio.wait_for(touch, timeout=15)
            await transaction.rollback()
            report = await asyncio.wait_for(batch, timeout=15)
    finally:
        await other.close()
    said = [record.getMessage() for record in caplog.records]
    assert any("lost a race" in m for m in said), said
    assert not any("isolating" in m for m in said), said
    assert report.processed == 2
    assert await processed_comments(runtime) == 2
    assert await units(runtime) == (2, 2, 0)
    if isinstance(runtime.stock, RedisStock):
        # The rolled-back try took its units in Redis; the try that stored them took none more.
        assert await runtime.stock.gate.counters([SKU]) == {SKU: 18}


async def test_a_review_decided_while_a_batch_opens_the_buyers_first_cart_is_decided_again(
    runtime: Runtime,
) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A1+1"), ("u1", "好漂亮")])  # a review, then chatter
    async with runtime.sessions() as session:
        review_id = await session.scalar(select(ReviewItem.id))
        later = await session.scalar(select(Comment.id).where(Comment.text == "好漂亮"))
    assert review_id is not None and later is not None
    processor = CommentProcessor(runtime.settings, runtime.stock, runtime.checkout_secret)
    async with runtime.sessions.begin() as batch:
        # A batch opening the buyer's first cart (for the later comment), not yet committed.
        comment = await batch.get(Comment, later)
        assert comment is not None and comment.live_id is not None
        live = await batch.get(Live, comment.live_id)
        assert live is not None
        await processor.act(batch, [(comment, live, (Item("add", "A2", 1),))], now=utcnow())
        deciding = asyncio.create_task(decide_now(runtime, review_id, 0, "Mei"))
        await asyncio.sleep(0.5)
        assert not deciding.done()  # its cart waits for the batch's
    decided = await deciding
    assert (decided.decided_now, decided.decision) == (True, "A1-RED-M x1")
    assert await cart(runtime, "u1") == {"A2": 1, "A1-RED-M": 1}

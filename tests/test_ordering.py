"""Order comments through the real pipeline: carts, stock, limits, waitlist, cancels, replies.

Runs on SQLite and PostgreSQL, with the database queue and SQL stock, and with Redis."""

import asyncio
from datetime import timedelta

import orjson
from sqlalchemy import func, select, text, update

from bot.fakes.meta_webhooks import envelope, signed_body
from bot.pipeline import Pipeline
from bot.runtime import Runtime
from storage.models import (
    Comment,
    Live,
    Member,
    Order,
    OrderLine,
    OutboxMessage,
    ReviewItem,
    WaitlistEntry,
)
from storage.queue import QueuedDelivery
from storage.stock import levels
from storage.stock_backends import RedisStock
from storage.types import utcnow
from tests.pipeline import PAGE, comment_changes, comment_on, drain, start_test_live
from webhooks.envelope import check_envelope, read_delivery

OTHER_VIDEO = "690891113070002"


async def stock_of(runtime: Runtime, sku: str) -> tuple[int, int, int]:
    async with runtime.sessions() as session:
        (level,) = await levels(session, [sku])
    return level.on_hand, level.reserved, level.available


async def cart(runtime: Runtime, author: str) -> dict[str, int]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(OrderLine.sku, OrderLine.quantity)
            .join(Order, Order.id == OrderLine.order_id)
            .join(Comment, Comment.id == OrderLine.comment_id, isouter=True)
            .where(Order.status == "reserved", Order.member_id == await _member(runtime, author))
        )
        return dict(rows.all())  # type: ignore[arg-type]


async def block(runtime: Runtime, author: str) -> None:
    """The member behind `author` is blocked."""
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Member).where(Member.id == await _member(runtime, author)).values(blocked=True)
        )


async def _member(runtime: Runtime, author: str) -> int:
    from storage.models import Identity

    async with runtime.sessions() as session:
        member = await session.scalar(
            select(Identity.member_id).where(Identity.scoped_id == author)
        )
    assert member is not None
    return member


async def replies(runtime: Runtime) -> list[str]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "reply").order_by(OutboxMessage.id)
        )
        return [row.payload["text"] for row in rows]  # type: ignore[misc]


async def count(runtime: Runtime, model: type, *where: object) -> int:
    async with runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_an_order_comment_fills_the_buyers_cart_and_queues_one_reply(
    runtime: Runtime,
) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1"), ("u1", "A2 x2"), ("u1", "A1 紅 M +1")])
    assert await cart(runtime, "u1") == {"A2": 3, "A1-RED-M": 1}
    assert await stock_of(runtime, "A2") == (30, 3, 27)
    assert await count(runtime, Order) == 1
    texts = await replies(runtime)
    assert len(texts) == 3
    assert "A1-RED-M" in texts[2] and "/checkout/" in texts[2]
    async with runtime.sessions() as session:
        total = await session.scalar(select(Order.total))
    assert str(total) == "2160.00"  # 3 x 590 + 390


async def test_a_redelivered_or_replayed_comment_changes_nothing(runtime: Runtime) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+2")])
    await comment_on(runtime, [("u1", "A2+2")])  # Meta delivers the same comment again
    assert await cart(runtime, "u1") == {"A2": 2}
    assert await stock_of(runtime, "A2") == (30, 2, 28)
    assert len(await replies(runtime)) == 1


async def test_a_comment_stored_by_an_unfinished_try_is_processed_when_it_comes_again(
    runtime: Runtime,
) -> None:
    await start_test_live(runtime)
    body = signed_body(envelope("page", [(PAGE, comment_changes([("u1", "A2+2")]))]), "x")[0]
    pipeline = Pipeline.for_runtime(runtime)
    # An earlier try stored the comment as received, then its worker died.
    events = read_delivery(check_envelope(orjson.loads(body))).comments
    await pipeline.store(events, source="webhook")
    assert await count(runtime, Comment, Comment.status == "received") == 1
    report = await pipeline.handle([QueuedDelivery("again", body, utcnow())])
    assert report.processed == 1
    assert await cart(runtime, "u1") == {"A2": 2}
    assert await count(runtime, Comment, Comment.status == "processed") == 1
    assert len(await replies(runtime)) == 1


async def test_a_comment_that_cannot_be_processed_is_kept_failed_and_its_batch_goes_on(
    runtime: Runtime,
) -> None:
    broken = await start_test_live(runtime, video_id=OTHER_VIDEO)
    await start_test_live(runtime)
    async with runtime.sessions.begin() as session:  # a lineup no longer readable
        await session.execute(update(Live).where(Live.id == broken).values(lineup_csv="sku\n"))
    changes = comment_changes([("u1", "A2+1")], video_id=OTHER_VIDEO)
    changes += comment_changes([("u2", "A2+1")], start=2)
    await runtime.queue.put(signed_body(envelope("page", [(PAGE, changes)]), "x")[0])
    await drain(runtime)
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(Comment.author_id, Comment.status, Comment.error).order_by(Comment.id)
            )
        ).all()
    assert [(author, status) for author, status, _ in rows] == [
        ("u1", "failed"),
        ("u2", "processed"),
    ]
    assert rows[0][2]  # why, for `livecart replay`
    assert await cart(runtime, "u2") == {"A2": 1}
    assert await stock_of(runtime, "A2") == (30, 1, 29)
    assert len(await replies(runtime)) == 1


async def _refuse_lines_of(runtime: Runtime, quantity: int) -> None:
    """The database refuses any order line of `quantity` units (after the stock is taken)."""
    if runtime.engine.dialect.name == "postgresql":
        statements = (
            f"""CREATE FUNCTION refuse_lines() RETURNS trigger AS $$ BEGIN
               IF NEW.quantity = {quantity} THEN RAISE EXCEPTION 'line refused'; END IF;
               RETURN NEW; END $$ LANGUAGE plpgsql""",
            "CREATE TRIGGER refuse_lines BEFORE INSERT ON order_lines "
            "FOR EACH ROW EXECUTE FUNCTION refuse_lines()",
        )
    else:
        statements = (
            f"CREATE TRIGGER refuse_lines BEFORE INSERT ON order_lines WHEN NEW.quantity = "
            f"{quantity} BEGIN SELECT RAISE(ABORT, 'line refused'); END",
        )
    async with runtime.engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


async def test_stock_a_failed_comment_took_before_its_rollback_sells_to_the_next_buyer(
    runtime: Runtime,
) -> None:
    await start_test_live(runtime)
    await _refuse_lines_of(runtime, 13)
    await comment_on(runtime, [("u1", "C7+13")])
    assert await count(runtime, Comment, Comment.status == "failed") == 1
    assert await stock_of(runtime, "C7") == (15, 0, 15)
    await comment_on(runtime, [("u2", "C7+15")], start=2)
    assert await cart(runtime, "u2") == {"C7": 15}
    assert await count(runtime, WaitlistEntry) == 0
    assert await stock_of(runtime, "C7") == (15, 15, 0)
    if isinstance(runtime.stock, RedisStock):
        assert await runtime.stock.gate.counters(["C7"]) == {"C7": 0}


async def test_max_per_buyer_takes_what_is_allowed_and_says_why(runtime: Runtime) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "B3 +8"), ("u1", "B3 +5")])
    assert await cart(runtime, "u1") == {"B3": 10}
    second = (await replies(runtime))[1]
    assert "limit 10 per buyer; you already have 8" in second


async def test_shortage_goes_to_the_waitlist_and_a_cancel_promotes_it(runtime: Runtime) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [(f"u{n}", "C7+1") for n in range(17)])
    assert await stock_of(runtime, "C7") == (15, 15, 0)
    waiting = await count(runtime, WaitlistEntry, WaitlistEntry.status == "waiting")
    assert waiting == 2
    assert "候補" in (await replies(runtime))[15]
    async with runtime.sessions() as session:
        alerts = (
            await session.scalars(
                select(OutboxMessage.key).where(OutboxMessage.kind == "staff_alert")
            )
        ).all()
    assert alerts == ["alert:sold_out:1:C7"]  # one batch took it from 15 to 0
    await comment_on(runtime, [("u3", "取消C7")], start=100)
    assert await cart(runtime, "u3") == {}
    assert await cart(runtime, "u15") == {"C7": 1}  # first in the queue
    async with runtime.sessions() as session:
        made_by = await session.scalars(
            select(Comment.author_id)
            .select_from(OrderLine)
            .join(Comment, Comment.id == OrderLine.comment_id, isouter=True)
            .where(OrderLine.sku == "C7")
        )
        # The line the waitlist made remembers the comment that waited.
        assert sorted(map(str, made_by)) == sorted(f"u{n}" for n in range(16) if n != 3)
    assert await cart(runtime, "u16") == {}
    assert await stock_of(runtime, "C7") == (15, 15, 0)
    # u16 was offered nothing by the first fill; the next unit that comes back is theirs.
    await comment_on(runtime, [("u4", "取消C7")], start=200)
    assert await cart(runtime, "u16") == {"C7": 1}
    assert await count(runtime, WaitlistEntry, WaitlistEntry.status == "waiting") == 0
    assert await stock_of(runtime, "C7") == (15, 15, 0)


async def test_the_waitlist_keeps_the_order_comments_reached_us_whichever_is_stored_first(
    runtime: Runtime,
) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [(f"u{n}", "C7+1") for n in range(15)])  # sold out
    for start, author in ((100, "early"), (101, "late")):
        changes = comment_changes([(author, "C7+1")], start=start)
        await runtime.queue.put(signed_body(envelope("page", [(PAGE, changes)]), "x")[0])
        await asyncio.sleep(0.01)  # apart on Redis's millisecond clock too
    deliveries = await runtime.queue.take("test", 10, 1.0)
    assert len(deliveries) == 2
    # Two workers: the one holding the later delivery stores it first.
    pipeline = Pipeline.for_runtime(runtime)
    for delivery in reversed(deliveries):
        await pipeline.handle([delivery])
    await runtime.queue.ack([delivery.id for delivery in deliveries])
    await comment_on(runtime, [("u3", "取消C7")], start=200)
    assert await cart(runtime, "early") == {"C7": 1}
    assert await cart(runtime, "late") == {}


async def test_cancels_in_one_batch_drop_waiting_units_one_after_the_other(
    runtime: Runtime,
) -> None:
    await start_test_live(runtime)
    sold_out = [(f"u{n}", "C7+1") for n in range(15)]
    await comment_on(runtime, [*sold_out, ("w", "C7+3"), ("w", "C7-1"), ("w", "C7-1")])
    assert await cart(runtime, "w") == {}
    async with runtime.sessions() as session:
        entries = (
            await session.execute(select(WaitlistEntry.quantity, WaitlistEntry.status))
        ).all()
    assert [tuple(entry) for entry in entries] == [(1, "waiting")]
    await comment_on(runtime, [("w", "C7-1")], start=100)  # a later batch drops the last one
    assert await count(runtime, WaitlistEntry, WaitlistEntry.status == "waiting") == 0


async def test_cancels_give_stock_back(runtime: Runtime) -> None:
    await start_test_live(runtime, current="C7")
    await comment_on(runtime, [("u1", "A2+3"), ("u1", "+2"), ("u1", "A2-1"), ("u1", "取消")])
    assert await cart(runtime, "u1") == {"A2": 2}
    assert await stock_of(runtime, "A2") == (30, 2, 28)
    assert await stock_of(runtime, "C7") == (15, 0, 15)


async def test_reviews_none_and_blocked_buyers(runtime: Runtime) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A1+1"), ("u2", "好漂亮😍"), ("u3", "Z9+1")])
    assert await count(runtime, ReviewItem) == 2
    assert await count(runtime, OutboxMessage, OutboxMessage.kind == "staff_review") == 2
    assert await count(runtime, Order) == 0
    assert await replies(runtime) == []  # a review is answered once staff decide
    await comment_on(runtime, [("u4", "A2+1")], start=10)
    async with runtime.sessions.begin() as session:
        await session.execute(update(Member).values(blocked=True))
    await comment_on(runtime, [("u4", "A2+1")], start=20)
    assert await count(runtime, ReviewItem) == 3
    assert await stock_of(runtime, "A2") == (30, 1, 29)


async def test_after_the_replay_window_ordering_is_closed(runtime: Runtime) -> None:
    live_id = await start_test_live(runtime)
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Live)
            .where(Live.id == live_id)
            .values(
                status="replay",
                ended_at=utcnow() - timedelta(hours=30),
                replay_deadline=utcnow() - timedelta(hours=6),
            )
        )
    await comment_on(runtime, [("u1", "A2+1")])
    assert await stock_of(runtime, "A2") == (30, 0, 30)
    (text,) = await replies(runtime)
    assert "結束" in text

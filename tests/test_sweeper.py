"""Time's work: unpaid holds expire (stock to the waitlist first), replays close."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select, update

from bot.runtime import Runtime
from bot.sweeper import sweep
from storage.models import Live, Order, OutboxMessage, WaitlistEntry
from storage.types import utcnow
from tests.checkout.support import open_order
from tests.pipeline import comment_on, start_test_live
from tests.test_ordering import cart, stock_of


async def test_an_expired_hold_gives_its_stock_to_the_waitlist(runtime: Runtime) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("early", "A12+5"), ("u1", "A12+5"), ("late", "A12+2")])
    assert await stock_of(runtime, "A12") == (10, 10, 0)
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Order).where(Order.id == 1).values(hold_until=utcnow() - timedelta(minutes=1))
        )
    swept = await sweep(runtime, utcnow())
    again = await sweep(runtime, utcnow())
    assert (swept.expired_orders, again.expired_orders) == (1, 0)
    assert await cart(runtime, "late") == {"A12": 2}
    assert await stock_of(runtime, "A12") == (10, 7, 3)
    async with runtime.sessions() as session:
        statuses = dict((await session.execute(select(Order.id, Order.status))).all())
        events = (
            await session.scalars(
                select(OutboxMessage.payload).where(OutboxMessage.kind == "store_event")
            )
        ).all()
    assert statuses[1] == "expired"
    assert any(e["event"] == "order.expired" and e["order_id"] == 1 for e in events)


async def test_a_replay_closes_at_its_deadline_and_its_waitlist_with_it(
    runtime: Runtime,
) -> None:
    live_id = await start_test_live(runtime)
    await comment_on(runtime, [(f"u{n}", "蘋果+1") for n in range(9)])
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Live)
            .where(Live.id == live_id)
            .values(status="replay", replay_deadline=utcnow() - timedelta(seconds=1))
        )
    assert (await sweep(runtime, utcnow())).closed_lives == 1
    async with runtime.sessions() as session:
        live = await session.get(Live, live_id)
        waiting = (await session.scalars(select(WaitlistEntry.status))).all()
    assert live is not None and live.status == "closed"
    assert waiting == ["closed"]
    await comment_on(runtime, [("late", "A2+1")], start=100)
    async with runtime.sessions() as session:
        texts = (
            await session.scalars(
                select(OutboxMessage.payload).where(
                    OutboxMessage.kind == "reply", OutboxMessage.key.like("%\\_100", escape="\\")
                )
            )
        ).all()
    assert len(texts) == 1 and "結束" in str(texts[0]["text"])  # told it closed, nothing taken


async def total_of(runtime: Runtime, order_id: int) -> Decimal:
    async with runtime.sessions() as session:
        total = await session.scalar(select(Order.total).where(Order.id == order_id))
    assert total is not None
    return total


async def events_of(runtime: Runtime, order_id: int) -> list[str]:
    async with runtime.sessions() as session:
        payloads = (
            await session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.kind == "store_event")
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [p["event"] for p in payloads if p["order_id"] == order_id]


async def test_a_cart_the_waitlist_opens_on_expiry_has_its_total_and_its_event(
    runtime: Runtime,
) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("early", "A12+10"), ("late", "A12+2")])
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Order).where(Order.id == 1).values(hold_until=utcnow() - timedelta(minutes=1))
        )
    await sweep(runtime, utcnow())
    assert await cart(runtime, "late") == {"A12": 2}
    order_id = await open_order(runtime, "late", 1)
    assert await total_of(runtime, order_id) == Decimal("900.00")
    assert await events_of(runtime, order_id) == ["order.reserved"]


async def _end_hold(runtime: Runtime, order_id: int) -> None:
    """The hold ends, and the sweeper has not come by yet (it runs every SWEEP_EVERY)."""
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(hold_until=utcnow() - timedelta(seconds=1))
        )


async def test_a_comment_on_a_cart_past_its_hold_opens_a_new_cart(runtime: Runtime) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A12+3"), ("late", "A12+9")])
    assert await stock_of(runtime, "A12") == (10, 10, 0)
    first = await open_order(runtime, "u1", 1)
    await _end_hold(runtime, first)
    await comment_on(runtime, [("u1", "A2+1")], start=10)
    # The old cart expired with its units (they went to the one waiting); the comment opened a
    # new cart holding only what it asked.
    assert await cart(runtime, "u1") == {"A2": 1}
    assert await cart(runtime, "late") == {"A12": 9}
    assert await stock_of(runtime, "A12") == (10, 9, 1)
    second = await open_order(runtime, "u1", 1)
    assert second != first
    assert await events_of(runtime, first) == ["order.reserved", "order.expired"]
    assert await events_of(runtime, second) == ["order.reserved"]
    assert await total_of(runtime, second) == Decimal("590.00")
    assert (await sweep(runtime, utcnow())).expired_orders == 0


async def test_stock_that_comes_back_skips_a_buyer_whose_cart_is_past_its_hold(
    runtime: Runtime,
) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "C7+15"), ("lapsed", "A2+1")])
    await comment_on(runtime, [("lapsed", "C7+1"), ("next", "C7+1")], start=10)
    await _end_hold(runtime, await open_order(runtime, "lapsed", 1))
    await comment_on(runtime, [("u1", "取消C7 1")], start=20)
    # The unit goes to the next in line: the first is about to lose their cart and their place.
    assert await cart(runtime, "next") == {"C7": 1}
    assert await cart(runtime, "lapsed") == {"A2": 1}
    await sweep(runtime, utcnow())
    async with runtime.sessions() as session:
        waiting = (await session.scalars(select(WaitlistEntry.status))).all()
    assert sorted(waiting) == ["closed", "filled"]

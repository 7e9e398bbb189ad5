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

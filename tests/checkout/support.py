"""Reading carts, stock, members and store events back for the checkout tests."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, select

from bot import checkout
from bot.fakes.meta_webhooks import envelope, instagram_comment, signed_body
from bot.live_sessions import LiveSpec, start_live
from bot.runtime import Runtime
from storage.models import Identity, Member, Order, OrderLine, OutboxMessage, WaitlistEntry
from storage.stock import levels
from storage.types import utcnow
from tests.pipeline import LINEUP, drain

GOOD_FORM = {
    "name": "王小明",
    "phone": "0912-345-678",
    "email": "Ming@Example.COM",
    "fulfilment": "pickup",
    "shop": "台北門市 Taipei",
    "address": "",
}
IG_ACCOUNT = "17841400000000001"


async def stock_of(runtime: Runtime, sku: str) -> tuple[int, int, int]:
    """(on hand, reserved, sold)."""
    async with runtime.sessions() as session:
        (level,) = await levels(session, [sku])
    return level.on_hand, level.reserved, level.sold


async def member_of(runtime: Runtime, author: str) -> int:
    async with runtime.sessions() as session:
        member = await session.scalar(
            select(Identity.member_id).where(Identity.scoped_id == author)
        )
    assert member is not None, f"no identity {author}"
    return member


async def open_order(runtime: Runtime, author: str, live_id: int) -> int:
    member = await member_of(runtime, author)
    async with runtime.sessions() as session:
        order = await session.scalar(
            select(Order.id).where(
                Order.member_id == member, Order.live_id == live_id, Order.status == "reserved"
            )
        )
    assert order is not None, f"{author} has no open cart in live {live_id}"
    return order


async def lines_of(runtime: Runtime, order_id: int) -> dict[str, int]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(OrderLine.sku, OrderLine.quantity).where(OrderLine.order_id == order_id)
        )
        return {sku: quantity for sku, quantity in rows.all()}


async def seen_cart(runtime: Runtime, order_id: int) -> str:
    """The cart fingerprint the buyer's page shows now, as its confirm form sends it back."""
    async with runtime.sessions() as session:
        page = await checkout.load_page(session, order_id, utcnow())
    assert page is not None
    return page.fingerprint


async def confirm(
    runtime: Runtime, order_id: int, *, seen: str | None = None, **changes: str
) -> int:
    """Confirm as the buyer would, having seen the cart as it is now (or as `seen`)."""
    seen = await seen_cart(runtime, order_id) if seen is None else seen
    async with runtime.sessions.begin() as session:
        return await checkout.confirm(
            session,
            runtime.stock,
            order_id,
            {**GOOD_FORM, **changes},
            seen=seen,
            now=utcnow(),
            hold_for=runtime.settings.hold_for,
            shops=runtime.settings.pickup_shops,
        )


async def order_row(runtime: Runtime, order_id: int) -> Order:
    async with runtime.sessions() as session:
        order = await session.get(Order, order_id)
    assert order is not None
    return order


async def member_row(runtime: Runtime, member_id: int) -> Member:
    async with runtime.sessions() as session:
        member = await session.get(Member, member_id)
    assert member is not None
    return member


async def store_events(runtime: Runtime, order_id: int) -> list[dict[str, object]]:
    """The store events of one order, oldest first."""
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.kind == "store_event", OutboxMessage.partition == f"order:{order_id}"
            )
            .order_by(OutboxMessage.id)
        )
        return [row.payload for row in rows]


async def event_names(runtime: Runtime, order_id: int) -> list[str]:
    return [str(event["event"]) for event in await store_events(runtime, order_id)]


async def waiting_statuses(runtime: Runtime, author: str) -> list[str]:
    member = await member_of(runtime, author)
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(WaitlistEntry.status)
            .where(WaitlistEntry.member_id == member)
            .order_by(WaitlistEntry.id)
        )
        return list(rows.all())


async def count_orders(runtime: Runtime, *where: ColumnElement[bool]) -> int:
    async with runtime.sessions() as session:
        found = await session.scalar(select(func.count()).select_from(Order).where(*where))
    return int(found or 0)


async def start_instagram_live(runtime: Runtime, media_id: str) -> int:
    async with runtime.sessions.begin() as session:
        live = await start_live(
            session,
            LiveSpec(
                platform="instagram", page_id=IG_ACCOUNT, video_id=media_id, lineup_csv=LINEUP
            ),
        )
        return live.id


async def instagram_comments_on(
    runtime: Runtime, media_id: str, comments: Sequence[tuple[str, str]], *, start: int
) -> None:
    """Queue Instagram live comments (author, text) the way Meta delivers them, then drain."""
    changes = [
        instagram_comment(
            media_id=media_id,
            comment_id=f"ig{start + n}",
            text=text,
            author_id=author,
            username=f"user_{author}",
        )
        for n, (author, text) in enumerate(comments)
    ]
    await runtime.queue.put(signed_body(envelope("instagram", [(IG_ACCOUNT, changes)]), "x")[0])
    await drain(runtime)

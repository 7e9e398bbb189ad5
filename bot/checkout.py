"""Checkout as a service, without HTTP: what the buyer's page shows, removing a line, confirming.

Everything runs in the caller's transaction (one unit of work): stock moves, the order, member
merges and the store events commit together or not at all. An order is changed only after it is
locked by a conditional UPDATE that also proves it is still open, so two taps on "confirm", or a
confirm racing the expiry sweep, cannot both win.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.cart import cart_fingerprint
from bot.checkout_form import Details, Fulfilment, read_details
from bot.ordering import Expiry, expire_carts, fill_waitlist
from bot.store_events import write_order_events
from storage import orders
from storage.members import Merged, merge_into
from storage.models import Live, Member, Order, OrderLine, Sku, WaitlistEntry
from storage.orders import OrderSnapshot
from storage.stock import AVAILABLE, StockRequest
from storage.stock_backends import Stock

log = logging.getLogger("livecart.checkout")

PageState = Literal["open", "confirmed", "cancelled", "expired"]


class OrderNotOpen(Exception):
    """The order can no longer change: `state` is confirmed, cancelled, expired or missing."""

    def __init__(self, order_id: int, state: str) -> None:
        super().__init__(f"order {order_id} is {state}")
        self.order_id = order_id
        self.state = state


class EmptyCart(Exception):
    """There is nothing in the cart to confirm."""


class CartChanged(Exception):
    """The cart is not the one the buyer's page showed (`cart_fingerprint`)."""


@dataclass(frozen=True, slots=True)
class Waiting:
    """What the buyer waits for: the SKU, how many, their place in its queue (1 = next)."""

    sku: str
    name: str
    quantity: int
    place: int
    sold_out: bool


@dataclass(frozen=True, slots=True)
class CheckoutPage:
    order: OrderSnapshot
    state: PageState
    waiting: tuple[Waiting, ...]
    # What the buyer gave at checkout (shown once confirmed); None before.
    details: Details | None
    confirmed_at: datetime | None
    live_title: str | None

    @property
    def fingerprint(self) -> str:
        """What the confirm form sends back as `seen`."""
        return cart_fingerprint(
            (line.sku, line.quantity, line.unit_price) for line in self.order.lines
        )


def page_state(status: str, hold_until: datetime, now: datetime) -> PageState:
    """A `reserved` order whose hold has passed is expired, even before the sweep closes it."""
    if status == "reserved":
        return "open" if hold_until > now else "expired"
    if status in ("confirmed", "cancelled", "expired"):
        return cast(PageState, status)
    return "cancelled"


# --- the page ------------------------------------------------------------------------------


async def load_page(session: AsyncSession, order_id: int, now: datetime) -> CheckoutPage | None:
    """Everything the buyer's page shows, or None when there is no such order."""
    order = await session.get(Order, order_id)
    if order is None:
        return None
    snapshot = (await orders.snapshots(session, [order_id]))[order_id]
    return CheckoutPage(
        order=snapshot,
        state=page_state(order.status, order.hold_until, now),
        waiting=await waiting_for(session, order.live_id, order.member_id),
        details=_details_of(order),
        confirmed_at=order.confirmed_at,
        live_title=await session.scalar(select(Live.title).where(Live.id == order.live_id)),
    )


async def waiting_for(session: AsyncSession, live_id: int, member_id: int) -> tuple[Waiting, ...]:
    """The buyer's waiting entries in this live, one per SKU, with their place in the SKU's
    queue: the queue is shared by every live (one stock), first come first served."""
    rows = (
        await session.execute(
            select(
                WaitlistEntry.id,
                WaitlistEntry.sku,
                WaitlistEntry.quantity - WaitlistEntry.filled,
                WaitlistEntry.queued_at,
                Sku.name,
                AVAILABLE,
            )
            .join(Sku, Sku.sku == WaitlistEntry.sku)
            .where(
                WaitlistEntry.live_id == live_id,
                WaitlistEntry.member_id == member_id,
                WaitlistEntry.status == "waiting",
            )
            .order_by(WaitlistEntry.queued_at, WaitlistEntry.id)
        )
    ).all()
    found: dict[str, Waiting] = {}
    for entry_id, sku, quantity, queued_at, name, available in rows:
        if sku in found:  # a later entry for the same SKU: same place, more units
            earlier = found[sku]
            found[sku] = Waiting(
                sku, name, earlier.quantity + int(quantity), earlier.place, earlier.sold_out
            )
            continue
        ahead = await _ahead_in_queue(session, sku, queued_at, entry_id)
        found[sku] = Waiting(sku, name, int(quantity), ahead + 1, available <= 0)
    return tuple(found.values())


async def _ahead_in_queue(
    session: AsyncSession, sku: str, queued_at: datetime, entry_id: int
) -> int:
    earlier = or_(
        WaitlistEntry.queued_at < queued_at,
        and_(WaitlistEntry.queued_at == queued_at, WaitlistEntry.id < entry_id),
    )
    count = await session.scalar(
        select(func.count())
        .select_from(WaitlistEntry)
        .where(WaitlistEntry.sku == sku, WaitlistEntry.status == "waiting", earlier)
    )
    return int(count or 0)


def _details_of(order: Order) -> Details | None:
    if order.buyer_name is None or order.fulfilment is None:
        return None
    return Details(
        name=order.buyer_name,
        phone=order.buyer_phone or "",
        email=order.buyer_email or "",
        fulfilment=cast(Fulfilment, order.fulfilment),
        pickup_shop=order.pickup_shop,
        address=order.address,
    )


# --- removing a line -----------------------------------------------------------------------


async def remove_line(
    session: AsyncSession,
    stock: Stock,
    order_id: int,
    sku: str,
    *,
    now: datetime,
    hold_for: timedelta,
) -> bool:
    """Take `sku` out of an open cart: its stock goes back and straight to whoever waits for it.

    The buyer's own waiting for that SKU in this live ends too (they said they do not want it,
    and it must not flow back into the cart they just emptied). False when the line was not
    there (a second tap); OrderNotOpen when the order can no longer change."""
    order = await _lock_open_order(session, order_id, now)
    line = await session.scalar(
        select(OrderLine).where(OrderLine.order_id == order_id, OrderLine.sku == sku)
    )
    if line is None or line.quantity <= 0:
        return False
    line_id, quantity = line.id, line.quantity
    await orders.shrink_lines(session, [(order_id, sku, quantity)])
    await _stop_waiting(session, order.live_id, order.member_id, sku)
    # Its own ref per removal: SQLite gives a line ordered again after a removal the removed
    # line's id, and a second tap never gets here (the line is gone).
    removal = f"o{order_id}:line{line_id}:{uuid.uuid4().hex[:12]}"
    await stock.release(session, [StockRequest(removal, sku, quantity)], "remove")
    filled = await fill_waitlist(session, stock, [sku], now=now, hold_for=hold_for)
    await orders.recompute_totals(session, {order_id})
    await write_order_events(session, {**filled.events(), order_id: "order.updated"})
    log.info(
        "checkout: order %d removed %s x%d; the stock went back (%d waiting cart(s) filled)",
        order_id,
        sku,
        quantity,
        len(filled.orders),
    )
    return True


async def _stop_waiting(session: AsyncSession, live_id: int, member_id: int, sku: str) -> None:
    await session.execute(
        update(WaitlistEntry)
        .where(
            WaitlistEntry.live_id == live_id,
            WaitlistEntry.member_id == member_id,
            WaitlistEntry.sku == sku,
            WaitlistEntry.status == "waiting",
        )
        .values(
            quantity=WaitlistEntry.filled,
            status=case((WaitlistEntry.filled > 0, "filled"), else_="cancelled"),
        )
        .execution_options(synchronize_session=False)
    )


# --- confirming ----------------------------------------------------------------------------


async def confirm(
    session: AsyncSession,
    stock: Stock,
    order_id: int,
    form: Mapping[str, str],
    *,
    seen: str,
    now: datetime,
    hold_for: timedelta,
    shops: Sequence[str],
) -> int:
    """Confirm an open cart with the buyer's details; returns the member the order belongs to.

    Checks the form first (InvalidDetails, nothing written); then the order must be open
    (OrderNotOpen), hold something (EmptyCart) and be the cart the buyer saw, whose
    `CheckoutPage.fingerprint` is `seen` (CartChanged). Its reserved stock becomes sold; the buyer's
    other waiting in this live ends (once confirmed, nobody could tell them about a new cart);
    the person behind the order becomes one member with whoever has that phone or e-mail."""
    details = read_details(form, shops)
    order = await _lock_open_order(session, order_id, now)
    lines = [line for line in await orders.order_lines(session, [order_id]) if line.quantity > 0]
    if not lines:
        raise EmptyCart(f"order {order_id} has nothing to confirm")
    if cart_fingerprint((line.sku, line.quantity, line.unit_price) for line in lines) != seen:
        raise CartChanged(f"order {order_id} changed after the buyer's page was loaded")
    await stock.sell(
        session,
        [StockRequest(f"o{order_id}:line{line.id}", line.sku, line.quantity) for line in lines],
    )
    _fill_in(order, details, now)
    await session.flush()
    await orders.close_waiting(session, buyers=[(order.live_id, order.member_id)])
    member_id, merged, expiry = await link_member(
        session, stock, order.member_id, details, now=now, hold_for=hold_for
    )
    await orders.recompute_totals(session, [order_id])
    events = {
        **expiry.events(),
        **merged.events(),
        order_id: "order.confirmed",
    }
    await write_order_events(session, events, {order_id: _checkout_data(details, member_id, now)})
    log.info(
        "checkout: order %d confirmed (%d line(s)) for member %d", order_id, len(lines), member_id
    )
    return member_id


def _fill_in(order: Order, details: Details, now: datetime) -> None:
    order.buyer_name = details.name
    order.buyer_phone = details.phone
    order.buyer_email = details.email
    order.fulfilment = details.fulfilment
    order.pickup_shop = details.pickup_shop
    order.address = details.address
    order.status = "confirmed"
    order.confirmed_at = now
    order.updated_at = now


async def link_member(
    session: AsyncSession,
    stock: Stock,
    member_id: int,
    details: Details,
    *,
    now: datetime,
    hold_for: timedelta,
) -> tuple[int, Merged, Expiry]:
    """One person, one member: a member already known by this phone (first) or e-mail keeps
    everything of the others (identities, carts, history). Blank contact details are filled in;
    known ones are never overwritten from an unverified form.

    Carts of theirs whose hold has ended expire first, as the sweeper would: combined with an
    open cart, they would live on under its hold."""
    by_phone = await _member_with(session, Member.phone == details.phone)
    by_email = await _member_with(session, Member.email == details.email)
    keep = by_phone or by_email or member_id
    people = [person for person in dict.fromkeys((member_id, by_phone, by_email)) if person]
    expiry = Expiry()
    if len(people) > 1 and (lapsed := await orders.lapsed_carts(session, people, now)):
        expiry = await expire_carts(session, stock, now=now, hold_for=hold_for, among_ids=lapsed)
    combined: dict[int, int] = {}
    for other in people:
        if other == keep:
            continue
        merged = await merge_into(session, keep, other, now=now)
        combined.update(merged.combined)
        log.info(
            "members: member %d merged into member %d (same phone or e-mail; %d cart(s) combined)",
            other,
            keep,
            len(merged.combined),
        )
    await session.execute(
        update(Member)
        .where(Member.id == keep)
        .values(
            phone=func.coalesce(Member.phone, details.phone),
            email=func.coalesce(Member.email, details.email),
            name=func.coalesce(Member.name, details.name),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return keep, Merged(combined), expiry


async def _member_with(session: AsyncSession, condition: ColumnElement[bool]) -> int | None:
    return await session.scalar(
        select(Member.id).where(condition, Member.merged_into_id.is_(None)).limit(1)
    )


def _checkout_data(details: Details, member_id: int, now: datetime) -> dict[str, object]:
    """What the central store needs to fulfil a confirmed order, beside the order snapshot."""
    return {
        "member_id": member_id,
        "confirmed_at": now.isoformat(),
        "customer": {"name": details.name, "phone": details.phone, "email": details.email},
        "fulfilment": {
            "method": details.fulfilment,
            "pickup_shop": details.pickup_shop,
            "address": details.address,
        },
    }


# --- shared --------------------------------------------------------------------------------


async def _lock_open_order(session: AsyncSession, order_id: int, now: datetime) -> Order:
    """The order, locked for this transaction, if it is still open; else OrderNotOpen.

    The UPDATE both takes the lock (a row lock on PostgreSQL, the write lock on SQLite) and
    checks the order is open, so the check cannot go stale before the change."""
    locked = await session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status == "reserved", Order.hold_until > now)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], locked).rowcount != 1:
        row = (
            await session.execute(
                select(Order.status, Order.hold_until).where(Order.id == order_id)
            )
        ).one_or_none()
        state = "missing" if row is None else page_state(row[0], row[1], now)
        raise OrderNotOpen(order_id, state)
    order = await session.get(Order, order_id, populate_existing=True)
    assert order is not None
    return order

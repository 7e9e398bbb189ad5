"""Carts, order lines and the waitlist in SQL, read and written a batch at a time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import among, chunked, dialect_of, insert_returning, insert_rows, key_chunks
from storage.models import (
    STANDING_ORDERS,
    Identity,
    LineupItem,
    Order,
    OrderLine,
    Sku,
    WaitlistEntry,
)
from storage.types import utcnow

BuyerKey = tuple[int, int]  # live id, member id
# Core tables: plain rows, written and updated in bulk without the ORM's per-row layer.
LINES = cast(Table, OrderLine.__table__)
ORDERS = cast(Table, Order.__table__)
WAITLIST = cast(Table, WaitlistEntry.__table__)


@dataclass(slots=True)
class CartState:
    """One buyer's standing in one live, as loaded at the start of a batch."""

    order_id: int | None = None
    hold_until: datetime | None = None
    lines: dict[str, int] = field(default_factory=dict)
    confirmed: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)


class Terms(NamedTuple):
    """How a SKU sells in one live."""

    name: str
    price: Decimal
    max_per_buyer: int | None


async def lineup_terms(
    session: AsyncSession, live_ids: Iterable[int]
) -> dict[tuple[int, str], Terms]:
    rows = await session.execute(
        select(
            LineupItem.live_id, LineupItem.sku, Sku.name, LineupItem.price, LineupItem.max_per_buyer
        )
        .join(Sku, Sku.sku == LineupItem.sku)
        .where(LineupItem.live_id.in_(list(set(live_ids))))
    )
    return {(live, sku): Terms(name, price, limit) for live, sku, name, price, limit in rows.all()}


async def load_carts(
    session: AsyncSession, buyers: Iterable[BuyerKey]
) -> dict[BuyerKey, CartState]:
    keys = sorted(set(buyers))  # the same order in every batch: see the lock below
    carts = {key: CartState() for key in keys}
    dialect = dialect_of(session)
    for chunk in key_chunks(dialect, keys, 300):
        pair = among(dialect, (Order.live_id, Order.member_id), chunk)
        # Lock the open carts (in id order: no deadlocks; on PostgreSQL all of a batch's carts
        # are one chunk) so a checkout confirming one at this moment either finishes first, and
        # we see it confirmed, or waits for us.
        await session.execute(
            select(Order.id)
            .where(pair, Order.status == "reserved")
            .order_by(Order.id)
            .with_for_update()
        )
        lines = await session.execute(
            select(
                Order.live_id,
                Order.member_id,
                Order.id,
                Order.status,
                Order.hold_until,
                OrderLine.sku,
                OrderLine.quantity,
            )
            .outerjoin(OrderLine, OrderLine.order_id == Order.id)
            .where(pair, Order.status.in_(STANDING_ORDERS))
        )
        for live_id, member_id, order_id, status, hold_until, sku, quantity in lines.all():
            cart = carts[(live_id, member_id)]
            if status == "reserved":
                cart.order_id = order_id
                cart.hold_until = hold_until
                if sku is not None:
                    cart.lines[sku] = cart.lines.get(sku, 0) + quantity
            elif sku is not None:
                cart.confirmed[sku] = cart.confirmed.get(sku, 0) + quantity
        waiting = await session.execute(
            select(
                WaitlistEntry.live_id,
                WaitlistEntry.member_id,
                WaitlistEntry.sku,
                func.sum(WaitlistEntry.quantity - WaitlistEntry.filled),
            )
            .where(
                among(dialect, (WaitlistEntry.live_id, WaitlistEntry.member_id), chunk),
                WaitlistEntry.status == "waiting",
            )
            .group_by(WaitlistEntry.live_id, WaitlistEntry.member_id, WaitlistEntry.sku)
        )
        for live_id, member_id, sku, quantity in waiting.all():
            carts[(live_id, member_id)].waiting[sku] = int(quantity)
    return carts


async def open_orders(
    session: AsyncSession,
    buyers: Sequence[tuple[BuyerKey, int | None]],
    hold_until: datetime,
) -> dict[BuyerKey, int]:
    """New `reserved` orders for buyers with none; (buyer, identity id) in, order ids out."""
    if not buyers:
        return {}
    now = utcnow()
    # Keyed by (live, member), one new order each: RETURNING's row order is not promised (and
    # asking SQLAlchemy to sort it costs one statement per row on SQLite).
    rows = await insert_returning(
        session,
        ORDERS,
        [
            {"live_id": live, "member_id": member, "identity_id": identity}
            for (live, member), identity in buyers
        ],
        (ORDERS.c.live_id, ORDERS.c.member_id, ORDERS.c.id),
        shared={
            "status": "reserved",
            "total": Decimal(0),
            "hold_until": hold_until,
            "created_at": now,
            "updated_at": now,
        },
    )
    return {
        (live, member): order_id
        for live, member, order_id in cast(list[tuple[int, int, int]], rows)
    }


async def add_lines(
    session: AsyncSession,
    new: Sequence[tuple[int, str, int, Decimal, int | None]],
    grow: Sequence[tuple[int, str, int]],
) -> None:
    """`new`: (order, sku, quantity, unit price, comment) rows; `grow`: (order, sku, more)."""
    now = utcnow()
    if new:
        await insert_rows(
            session,
            LINES,
            [
                {
                    "order_id": order,
                    "sku": sku,
                    "quantity": quantity,
                    "unit_price": price,
                    "comment_id": comment,
                }
                for order, sku, quantity, price, comment in new
            ],
            shared={"created_at": now, "updated_at": now},
        )
    if grow:
        await _change_lines(session, grow, now)


async def shrink_lines(session: AsyncSession, changes: Sequence[tuple[int, str, int]]) -> None:
    """(order, sku, fewer); a line that reaches zero is removed."""
    if not changes:
        return
    now = utcnow()
    await _change_lines(session, [(o, s, -n) for o, s, n in changes], now)
    for chunk in chunked(sorted({order for order, _, _ in changes}), 500):
        await session.execute(
            delete(OrderLine).where(OrderLine.order_id.in_(chunk), OrderLine.quantity <= 0)
        )


async def _change_lines(
    session: AsyncSession, changes: Sequence[tuple[int, str, int]], now: datetime
) -> None:
    totals: dict[tuple[int, str], int] = defaultdict(int)
    for order, sku, delta in changes:
        totals[(order, sku)] += delta
    await session.execute(
        update(LINES)
        .where(LINES.c.order_id == bindparam("o"), LINES.c.sku == bindparam("s"))
        .values(quantity=LINES.c.quantity + bindparam("d"), updated_at=now),
        [{"o": order, "s": sku, "d": delta} for (order, sku), delta in totals.items()],
    )


async def recompute_totals(session: AsyncSession, order_ids: Iterable[int]) -> None:
    # Money is stored in cents, so the SQL sum is exact.
    amount = (
        select(func.coalesce(func.sum(LINES.c.quantity * LINES.c.unit_price), 0))
        .where(LINES.c.order_id == ORDERS.c.id)
        .scalar_subquery()
    )
    dialect = dialect_of(session)
    for chunk in key_chunks(dialect, sorted(set(order_ids)), 500):
        await session.execute(
            update(ORDERS)
            .where(among(dialect, [ORDERS.c.id], [(order,) for order in chunk]))
            .values(total=amount, updated_at=utcnow())
        )


async def add_waiting(session: AsyncSession, rows: Sequence[dict[str, object]]) -> None:
    await insert_rows(session, WAITLIST, rows)


async def waiting_entries(
    session: AsyncSession, wanted: Iterable[tuple[int, int, str]]
) -> dict[tuple[int, int, str], list[WaitlistEntry]]:
    """Buyers' waiting entries per (live, member, SKU), newest first (a cancel drops those
    first)."""
    found: dict[tuple[int, int, str], list[WaitlistEntry]] = defaultdict(list)
    dialect = dialect_of(session)
    key = (WaitlistEntry.live_id, WaitlistEntry.member_id, WaitlistEntry.sku)
    for chunk in key_chunks(dialect, wanted, 300):
        entries = await session.scalars(
            select(WaitlistEntry)
            .where(
                among(dialect, key, chunk),
                WaitlistEntry.status == "waiting",
            )
            .order_by(WaitlistEntry.queued_at.desc(), WaitlistEntry.id.desc())
        )
        for entry in entries:
            found[(entry.live_id, entry.member_id, entry.sku)].append(entry)
    return found


def _lapsed(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """An unpaid cart whose hold has ended (the sweeper may not have expired it yet)."""
    return (Order.status == "reserved", Order.hold_until <= now)


async def queue_for(
    session: AsyncSession, skus: Iterable[str], now: datetime
) -> list[WaitlistEntry]:
    """Everyone waiting for these SKUs, first come first served (by when the comment came),
    except buyers whose cart's hold has ended: that cart is about to expire, and their waiting
    with it."""
    lapsed = (
        select(Order.id)
        .where(
            Order.live_id == WaitlistEntry.live_id,
            Order.member_id == WaitlistEntry.member_id,
            *_lapsed(now),
        )
        .exists()
    )
    result = await session.scalars(
        select(WaitlistEntry)
        .where(WaitlistEntry.sku.in_(sorted(set(skus))), WaitlistEntry.status == "waiting", ~lapsed)
        .order_by(WaitlistEntry.queued_at, WaitlistEntry.id)
    )
    return list(result.all())


class ExpiredCart(NamedTuple):
    order_id: int
    live_id: int
    member_id: int

    @property
    def buyer(self) -> BuyerKey:
        return (self.live_id, self.member_id)


async def expire_due(
    session: AsyncSession, now: datetime, limit: int = 500, among_ids: Sequence[int] | None = None
) -> list[ExpiredCart]:
    """Mark unpaid carts whose hold has ended `expired` (the oldest `limit`, or those of
    `among_ids`); returns the carts this call expired, by order id (the conditional UPDATE
    makes a concurrent sweep get none of the same)."""
    due_now = [*_lapsed(now)]
    if among_ids is not None:
        due_now.append(Order.id.in_(list(among_ids)))
    due = select(Order.id).where(*due_now).order_by(Order.hold_until).limit(limit).scalar_subquery()
    expired = await session.execute(
        update(Order)
        .where(Order.id.in_(due), Order.status == "reserved")
        .values(status="expired", closed_at=now, updated_at=now)
        .returning(Order.id, Order.live_id, Order.member_id)
    )
    return sorted(ExpiredCart(*row) for row in expired.all())


async def lapsed_carts(
    session: AsyncSession, member_ids: Iterable[int], now: datetime
) -> list[int]:
    """The members' `reserved` orders whose hold has ended, not yet expired by the sweeper."""
    found = await session.scalars(
        select(Order.id).where(Order.member_id.in_(list(member_ids)), *_lapsed(now))
    )
    return sorted(found.all())


async def order_lines(session: AsyncSession, order_ids: Iterable[int]) -> list[OrderLine]:
    result = await session.scalars(
        select(OrderLine).where(OrderLine.order_id.in_(list(order_ids))).order_by(OrderLine.id)
    )
    return list(result.all())


async def close_waiting(
    session: AsyncSession, *, live_ids: Sequence[int] = (), buyers: Sequence[BuyerKey] = ()
) -> None:
    """Waiting entries of closed lives, or of buyers whose cart ended, wait no more."""
    conditions = []
    if live_ids:
        conditions.append(WaitlistEntry.live_id.in_(list(live_ids)))
    if buyers:
        conditions.append(
            among(dialect_of(session), (WaitlistEntry.live_id, WaitlistEntry.member_id), buyers)
        )
    if conditions:
        await session.execute(
            update(WaitlistEntry)
            .where(and_(WaitlistEntry.status == "waiting", or_(*conditions)))
            .values(status="closed")
        )


class LineSnapshot(NamedTuple):
    sku: str
    name: str
    quantity: int
    unit_price: Decimal


class OrderSnapshot(NamedTuple):
    id: int
    live_id: int
    member_id: int
    status: str
    total: Decimal
    hold_until: datetime
    lines: tuple[LineSnapshot, ...]
    buyer_platform: str | None
    buyer_id: str | None
    buyer_name: str | None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "live_id": self.live_id,
            "status": self.status,
            "buyer": {
                "platform": self.buyer_platform,
                "id": self.buyer_id,
                "name": self.buyer_name,
            },
            "lines": [
                {
                    "sku": line.sku,
                    "name": line.name,
                    "quantity": line.quantity,
                    "price": str(line.unit_price),
                }
                for line in self.lines
            ],
            "total": str(self.total),
            "hold_until": self.hold_until.isoformat(),
        }


async def snapshots(session: AsyncSession, order_ids: Iterable[int]) -> dict[int, OrderSnapshot]:
    """Orders with their lines and buyer, as replies, events and the API show them."""
    dialect = dialect_of(session)
    found: dict[int, OrderSnapshot] = {}
    for chunk in key_chunks(dialect, sorted(set(order_ids)), 500):
        keys = [(order,) for order in chunk]
        heads = (
            await session.execute(
                select(
                    Order.id,
                    Order.live_id,
                    Order.member_id,
                    Order.status,
                    Order.total,
                    Order.hold_until,
                    Identity.platform,
                    Identity.scoped_id,
                    Identity.display_name,
                )
                .outerjoin(Identity, Identity.id == Order.identity_id)
                .where(among(dialect, (Order.id,), keys))
            )
        ).all()
        lines: dict[int, list[LineSnapshot]] = defaultdict(list)
        for order_id, sku, name, quantity, price in (
            await session.execute(
                select(
                    OrderLine.order_id,
                    OrderLine.sku,
                    Sku.name,
                    OrderLine.quantity,
                    OrderLine.unit_price,
                )
                .join(Sku, Sku.sku == OrderLine.sku)
                .where(among(dialect, (OrderLine.order_id,), keys), OrderLine.quantity > 0)
                .order_by(OrderLine.id)
            )
        ).all():
            lines[order_id].append(LineSnapshot(sku, name, quantity, price))
        for oid, live, member, status, total, hold, platform, scoped, buyer in heads:
            found[oid] = OrderSnapshot(
                oid, live, member, status, total, hold, tuple(lines[oid]), platform, scoped, buyer
            )
    return found

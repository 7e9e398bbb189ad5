"""What a live's report is computed from, read as plain rows (bot/report.py does the sums)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Comment,
    Identity,
    LineupItem,
    Live,
    Member,
    Order,
    OrderLine,
    Sku,
    WaitlistEntry,
)


@dataclass(frozen=True, slots=True)
class LiveInfo:
    id: int
    platform: str
    page_id: str
    title: str | None
    status: str
    started_at: datetime
    ended_at: datetime | None
    replay_deadline: datetime | None


@dataclass(frozen=True, slots=True)
class CommentRow:
    author_id: str | None
    parse_status: str | None  # order, review, none; None while unprocessed
    at: datetime  # when the viewer wrote it (when it reached us, if Meta did not say)


@dataclass(frozen=True, slots=True)
class OrderRow:
    id: int
    member_id: int
    status: str
    created_at: datetime
    buyer: str


@dataclass(frozen=True, slots=True)
class LineRow:
    order_id: int
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class WaitRow:
    sku: str
    quantity: int
    filled: int
    status: str  # waiting, filled, cancelled, closed


@dataclass(frozen=True, slots=True)
class SkuRow:
    sku: str
    name: str
    keyword: str
    price: Decimal
    available: int  # the shared stock left now


@dataclass(frozen=True, slots=True)
class ReportRows:
    live: LiveInfo
    comments: tuple[CommentRow, ...]
    orders: tuple[OrderRow, ...]
    lines: tuple[LineRow, ...]
    waitlist: tuple[WaitRow, ...]
    skus: tuple[SkuRow, ...]  # in lineup order


async def report_rows(session: AsyncSession, live_id: int) -> ReportRows | None:
    """Everything a live's report needs, or None when there is no such live."""
    live = await session.get(Live, live_id)
    if live is None:
        return None
    return ReportRows(
        live=LiveInfo(
            live.id,
            live.platform,
            live.page_id,
            live.title,
            live.status,
            live.started_at,
            live.ended_at,
            live.replay_deadline,
        ),
        comments=await _comments(session, live_id),
        orders=await _orders(session, live_id),
        lines=await _lines(session, live_id),
        waitlist=await _waitlist(session, live_id),
        skus=await _skus(session, live_id),
    )


async def _comments(session: AsyncSession, live_id: int) -> tuple[CommentRow, ...]:
    rows = await session.execute(
        select(Comment.author_id, Comment.parse_status, Comment.created_time, Comment.received_at)
        .where(Comment.live_id == live_id, Comment.verb == "add")
        .order_by(Comment.id)
    )
    return tuple(
        CommentRow(author, status, created or received)
        for author, status, created, received in rows.all()
    )


async def _orders(session: AsyncSession, live_id: int) -> tuple[OrderRow, ...]:
    rows = await session.execute(
        select(
            Order.id,
            Order.member_id,
            Order.status,
            Order.created_at,
            Order.buyer_name,
            Identity.display_name,
            Member.name,
        )
        .outerjoin(Identity, Identity.id == Order.identity_id)
        .outerjoin(Member, Member.id == Order.member_id)
        .where(Order.live_id == live_id)
        .order_by(Order.id)
    )
    return tuple(
        OrderRow(order_id, member, status, created, checkout or shown or name or f"member {member}")
        for order_id, member, status, created, checkout, shown, name in rows.all()
    )


async def _lines(session: AsyncSession, live_id: int) -> tuple[LineRow, ...]:
    rows = await session.execute(
        select(OrderLine.order_id, OrderLine.sku, OrderLine.quantity, OrderLine.unit_price)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.live_id == live_id)
        .order_by(OrderLine.id)
    )
    return tuple(LineRow(*row) for row in rows.all())


async def _waitlist(session: AsyncSession, live_id: int) -> tuple[WaitRow, ...]:
    rows = await session.execute(
        select(
            WaitlistEntry.sku, WaitlistEntry.quantity, WaitlistEntry.filled, WaitlistEntry.status
        )
        .where(WaitlistEntry.live_id == live_id)
        .order_by(WaitlistEntry.id)
    )
    return tuple(WaitRow(*row) for row in rows.all())


async def _skus(session: AsyncSession, live_id: int) -> tuple[SkuRow, ...]:
    rows = await session.execute(
        select(
            LineupItem.sku,
            Sku.name,
            LineupItem.keyword,
            LineupItem.price,
            Sku.on_hand - Sku.reserved - Sku.sold,
        )
        .join(Sku, Sku.sku == LineupItem.sku)
        .where(LineupItem.live_id == live_id)
        .order_by(LineupItem.position)
    )
    return tuple(
        SkuRow(sku, name, keyword, price, max(int(available), 0))
        for sku, name, keyword, price, available in rows.all()
    )

"""Other channels (the shops' POS, the web store) change the same stock the lives sell."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.ordering import fill_waitlist
from bot.store_events import write_order_events
from storage import stock
from storage.models import Sku, StockMove
from storage.stock_backends import Stock


@dataclass(frozen=True, slots=True)
class Adjustment:
    sku: str
    delta: int | None
    on_hand: int | None
    reason: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class Adjusted:
    applied: bool  # False: this idempotency key was applied before; nothing changed now
    change: int


class UnknownSku(LookupError):
    pass


class KeyReused(ValueError):
    """The idempotency key was applied before, to another SKU or by another delta."""


def _reference(adjustment: Adjustment) -> str:
    return f"key:{adjustment.idempotency_key}"


async def adjust(
    session: AsyncSession,
    backend: Stock,
    adjustment: Adjustment,
    *,
    now: datetime,
    hold_for: timedelta,
) -> Adjusted:
    """Apply once per idempotency key; units that arrive go to the waitlist first.

    Raises UnknownSku, KeyReused, or stock.StockRefused when reserved or sold units would be
    lost."""
    earlier = (
        await session.execute(
            select(StockMove.sku, StockMove.on_hand_delta).where(
                StockMove.reference == f"adjust:{_reference(adjustment)}"
            )
        )
    ).first()
    if earlier is not None:
        sku, change = earlier
        if sku != adjustment.sku or adjustment.delta not in (None, change):
            raise KeyReused(
                f"idempotency_key {adjustment.idempotency_key!r} already changed {sku} "
                f"by {change:+d}"
            )
        return Adjusted(applied=False, change=change)
    if await session.get(Sku, adjustment.sku) is None:
        raise UnknownSku(adjustment.sku)
    change = await stock.adjust_on_hand(
        session,
        adjustment.sku,
        delta=adjustment.delta,
        on_hand=adjustment.on_hand,
        reference=_reference(adjustment),
        reason="adjust",
        note=adjustment.reason,
    )
    await backend.on_hand_changed(adjustment.sku, change)
    if change > 0:
        filled = await fill_waitlist(session, backend, [adjustment.sku], now=now, hold_for=hold_for)
        await write_order_events(session, filled.events())
    return Adjusted(applied=True, change=change)

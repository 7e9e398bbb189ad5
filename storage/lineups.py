"""A live's lineup in SQL: its SKUs join the shared catalog, their stock the shared ledger."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parsers import LineupRow
from storage import stock
from storage.models import LineupItem, Sku


async def apply_lineup(session: AsyncSession, live_id: int, rows: Sequence[LineupRow]) -> None:
    """Create or update each SKU, set its on-hand stock where the lineup gives one (shared with
    every channel: through the ledger), and record the lineup rows of the live.

    Raises stock.StockRefused when a stock figure is below what is already reserved and sold."""
    known = {
        sku.sku: sku
        for sku in (
            await session.scalars(select(Sku).where(Sku.sku.in_([row.sku for row in rows])))
        ).all()
    }
    for row in rows:
        existing = known.get(row.sku)
        if existing is None:
            session.add(Sku(sku=row.sku, name=row.name, price=row.price))
        else:
            existing.name, existing.price = row.name, row.price
    await session.flush()
    for position, row in enumerate(rows):
        if row.stock is not None:
            await stock.adjust_on_hand(
                session,
                row.sku,
                delta=None,
                on_hand=row.stock,
                reference=f"live-{live_id}:{row.sku}",
                reason="lineup",
            )
        session.add(
            LineupItem(
                live_id=live_id,
                position=position,
                keyword=row.keyword,
                sku=row.sku,
                price=row.price,
                variant=" ".join("/".join(spellings) for spellings in row.variant_values),
                aliases="/".join(row.aliases),
                max_per_buyer=row.max_per_buyer,
            )
        )
    await session.flush()

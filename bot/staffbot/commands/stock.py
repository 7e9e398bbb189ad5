"""/stock [SKU]: what is left of one SKU, or of every SKU, in the shared stock."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot.staffbot.context import StaffContext
from bot.staffbot.replying import answer, listing
from storage.models import Sku
from storage.stock import StockLevel, levels


async def show_stock(update: Update, context: StaffContext) -> None:
    wanted = " ".join(context.args or []).strip() or None
    async with context.runtime.sessions() as session:
        if wanted is None:
            text = all_stock_text(await levels(session))
        else:
            sku = await _sku_named(session, wanted)
            found = await levels(session, [sku]) if sku is not None else []
            text = sku_stock_text(found[0]) if found else f"There is no SKU {wanted}."
    await answer(update, context, text)


def sku_stock_text(level: StockLevel) -> str:
    return (
        f"{level.sku} {level.name}: {level.available} available "
        f"({level.on_hand} on hand, {level.reserved} reserved, {level.sold} sold)"
    )


def all_stock_text(found: list[StockLevel]) -> str:
    if not found:
        return "No SKUs yet: a live's lineup adds them."
    return listing(
        "Available (on hand / reserved / sold):",
        [f"{s.sku}: {s.available} ({s.on_hand}/{s.reserved}/{s.sold})" for s in found],
    )


async def _sku_named(session: AsyncSession, wanted: str) -> str | None:
    """The SKU as stored, typed in any case (hosts type fast on phones)."""
    exact = await session.scalar(select(Sku.sku).where(Sku.sku == wanted))
    if exact is not None:
        return exact
    return await session.scalar(
        select(Sku.sku).where(func.upper(Sku.sku) == wanted.upper()).order_by(Sku.sku).limit(1)
    )

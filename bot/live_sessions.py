"""Starting a live with its lineup, choosing the product on screen, ending it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.lives import end_live
from parsers import LineupError, compile_lineup, read_lineup
from storage.lineups import apply_lineup
from storage.models import LineupItem, Live
from storage.stock import StockRefused
from storage.types import utcnow

Platform = Literal["facebook", "instagram"]


class LiveRefused(ValueError):
    """The request cannot start or change a live; the message says why in one sentence."""


@dataclass(frozen=True, slots=True)
class LiveSpec:
    platform: Platform
    page_id: str
    lineup_csv: str
    video_id: str | None = None
    post_id: str | None = None
    title: str | None = None
    # The live video object's id when it differs from the video id (polling uses it).
    live_video_id: str | None = None


async def start_live(session: AsyncSession, spec: LiveSpec) -> Live:
    """Register a live (or, with only a post id, a post sale) and its lineup; the lineup's stock
    column sets the shared stock. Nothing is written when the lineup is refused."""
    try:
        rows = read_lineup(spec.lineup_csv)
    except LineupError as error:
        raise LiveRefused(f"The lineup is refused: {error}") from None
    if not (spec.video_id or spec.post_id):
        raise LiveRefused("A live needs a video_id (or a post_id for a post sale).")
    post_id = spec.post_id
    if post_id is None and spec.platform == "facebook" and spec.video_id:
        post_id = f"{spec.page_id}_{spec.video_id}"
    live = Live(
        platform=spec.platform,
        page_id=spec.page_id,
        video_id=spec.video_id,
        live_video_id=spec.live_video_id,
        post_id=post_id,
        media_id=spec.video_id if spec.platform == "instagram" else None,
        title=spec.title,
        broadcast=spec.video_id is not None,
        status="live",
        lineup_csv=spec.lineup_csv,
        started_at=utcnow(),
    )
    session.add(live)
    await session.flush()
    try:
        await apply_lineup(session, live.id, rows)
    except StockRefused as error:
        raise LiveRefused(f"The lineup's stock is refused: {error}.") from None
    return live


async def lineup_skus(session: AsyncSession, live_id: int) -> list[str]:
    """The live's SKUs (their shared stock may have just been set by its lineup)."""
    rows = await session.scalars(select(LineupItem.sku).where(LineupItem.live_id == live_id))
    return list(rows.all())


def set_current(live: Live, keyword: str | None) -> None:
    """The product on screen, which bare "+1" comments order (None: nothing on screen)."""
    if keyword is not None:
        lineup = compile_lineup(read_lineup(live.lineup_csv))
        index = lineup.find(keyword)
        if index is None:
            raise LiveRefused(f"{keyword} is not in this live's lineup.")
        keyword = lineup.keywords[index].display
    live.current_keyword = keyword


def end(live: Live, replay_window: timedelta) -> None:
    if live.status == "closed":
        raise LiveRefused("This live has already closed.")
    end_live(live, utcnow(), replay_window)

"""Starting a live with its lineup, choosing the product on screen, ending it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.lives import end_live
from parsers import LineupError, compile_lineup, read_lineup
from storage import orders
from storage.db import dialect_of
from storage.lineups import apply_lineup
from storage.lives import OPEN_STATUSES
from storage.models import LineupItem, Live, most_characters
from storage.stock import StockRefused
from storage.types import utcnow

Platform = Literal["facebook", "instagram"]
log = logging.getLogger("livecart.lives")
_STARTS_LOCK = int.from_bytes(b"lcstarts", "big")


class LiveRefused(ValueError):
    """The request cannot start or change a live; the message says why in one sentence."""


class LiveClash(LiveRefused):
    """Another live still takes orders on the same video or post."""


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
    # Close a live still taking orders on the same video or post, instead of refusing.
    replace: bool = False


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
    named = {
        "page_id": spec.page_id,
        "video_id": spec.video_id,
        "post_id": post_id,
        "live_video_id": spec.live_video_id,
        "title": spec.title,
    }
    for name, value in named.items():
        longest = most_characters(getattr(Live, name))
        if value is not None and len(value) > longest:
            # Longer than the database keeps: PostgreSQL would refuse the row.
            raise LiveRefused(f"The {name} is longer than {longest} characters.")
    now = utcnow()
    if dialect_of(session) == "postgresql":
        # Two starts on one video at once: the second waits for the first, then sees it.
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _STARTS_LOCK})
    ids = {ident for ident in (spec.video_id, spec.live_video_id, post_id) if ident}
    for clash in await _selling_on(session, spec.platform, ids):
        if not spec.replace:
            raise LiveClash(
                f"Live {clash.id} still takes orders on this video or post ({clash.status}); "
                "replace it to close it now, or end it and wait for its replay to close."
            )
        _close_now(clash, now)
        await orders.close_waiting(session, live_ids=[clash.id])
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
        started_at=now,
    )
    session.add(live)
    await session.flush()
    try:
        await apply_lineup(session, live.id, rows)
    except StockRefused as error:
        raise LiveRefused(f"The lineup's stock is refused: {error}.") from None
    return live


async def _selling_on(session: AsyncSession, platform: str, ids: set[str]) -> list[Live]:
    """Lives on `platform` still taking orders, known by any of `ids`."""
    if not ids:
        return []
    named = or_(
        Live.video_id.in_(ids),
        Live.live_video_id.in_(ids),
        Live.post_id.in_(ids),
        Live.media_id.in_(ids),
    )
    found = await session.scalars(
        select(Live)
        .where(Live.platform == platform, Live.status.in_(OPEN_STATUSES), named)
        .order_by(Live.id)
    )
    return list(found.all())


def _close_now(live: Live, now: datetime) -> None:
    """A replaced live takes no more orders; its comments are answered as a closed live's."""
    log.info("live %d is closed: a new live replaces it on its video", live.id)
    live.status = "closed"
    live.ended_at = live.ended_at or now
    live.replay_deadline = now


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

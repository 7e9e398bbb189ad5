"""What a claimed comment means: each is read with its live's lineup and product on screen."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parsers import CompiledLineup, compile_lineup, parse_comment, read_lineup
from storage.models import Comment, Live

log = logging.getLogger("livecart.pipeline")


class CommentProcessor:
    def __init__(self) -> None:
        # Compiled once per lineup text: the per-comment path does no lineup work.
        self._lineups: dict[int, tuple[str, CompiledLineup]] = {}

    async def process(self, session: AsyncSession, comments: Sequence[Comment]) -> None:
        live_ids = {comment.live_id for comment in comments if comment.live_id is not None}
        lives = {
            live.id: live
            for live in (await session.scalars(select(Live).where(Live.id.in_(live_ids)))).all()
        }
        for comment in comments:
            live = lives.get(comment.live_id) if comment.live_id is not None else None
            self._read(comment, live)

    def _read(self, comment: Comment, live: Live | None) -> None:
        if comment.verb != "add":
            comment.parse_status, comment.parse_reason = "none", f"a '{comment.verb}' event"
            return
        if live is None:
            comment.parse_status = "none"
            comment.parse_reason = "not on a registered live or post"
            return
        result = parse_comment(comment.text or "", self._lineup(live), live.current_keyword)
        comment.parse_status = result.status
        comment.parse_items = [
            {"action": item.action, "sku": item.sku, "quantity": item.quantity}
            for item in result.items
        ]
        comment.parse_reason = result.reason or None

    def _lineup(self, live: Live) -> CompiledLineup:
        digest = hashlib.sha256(live.lineup_csv.encode()).hexdigest()
        cached = self._lineups.get(live.id)
        if cached is None or cached[0] != digest:
            cached = (digest, compile_lineup(read_lineup(live.lineup_csv)))
            self._lineups[live.id] = cached
        return cached[1]

"""Comments staff must decide on."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_of, insert_ignoring_duplicates
from storage.models import JsonObject, ReviewItem
from storage.types import utcnow


async def add_reviews(
    session: AsyncSession, items: Sequence[tuple[int, int | None, str, list[JsonObject]]]
) -> None:
    """(comment id, live id, reason, candidate readings); one review per comment."""
    if not items:
        return
    now = utcnow()
    await session.execute(
        insert_ignoring_duplicates(dialect_of(session), ReviewItem),
        [
            {
                "comment_id": comment,
                "live_id": live,
                "reason": reason,
                "candidates": candidates,
                "status": "open",
                "messages": [],
                "created_at": now,
            }
            for comment, live, reason, candidates in items
        ],
    )

"""Comments staff must decide on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_rows
from storage.models import JsonObject, ReviewItem
from storage.types import utcnow

REVIEWS = cast(Table, ReviewItem.__table__)


async def add_reviews(
    session: AsyncSession, items: Sequence[tuple[int, int | None, str, list[JsonObject]]]
) -> None:
    """(comment id, live id, reason, candidate readings); one review per comment."""
    await insert_rows(
        session,
        REVIEWS,
        [
            {"comment_id": comment, "live_id": live, "reason": reason, "candidates": candidates}
            for comment, live, reason, candidates in items
        ],
        shared={"status": "open", "messages": [], "created_at": utcnow()},
        skip_duplicates=True,
    )

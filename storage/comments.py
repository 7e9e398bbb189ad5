"""Comments as received: stored once per (platform, comment id, verb), then claimed once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, cast

from sqlalchemy import Table, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import among, dialect_of, insert_rows, key_chunks, update_rows
from storage.models import Comment, JsonObject
from storage.types import utcnow

CommentKey = tuple[str, str, str]
COMMENTS = cast(Table, Comment.__table__)
_CHUNK = 500
_KEY = (Comment.platform, Comment.comment_id, Comment.verb)


async def store_comments(session: AsyncSession, rows: Sequence[Mapping[str, object]]) -> None:
    """Insert the comments not stored yet; a redelivered event finds its row and adds nothing."""
    await insert_rows(session, COMMENTS, rows, skip_duplicates=True)


class CommentView(Protocol):
    """What processing reads of a comment: a claimed one, or a stored row (staff decisions)."""

    @property
    def id(self) -> int: ...
    @property
    def platform(self) -> str: ...
    @property
    def comment_id(self) -> str: ...
    @property
    def verb(self) -> str: ...
    @property
    def field(self) -> str: ...
    @property
    def page_id(self) -> str: ...
    @property
    def live_id(self) -> int | None: ...
    @property
    def author_id(self) -> str | None: ...
    @property
    def author_name(self) -> str | None: ...
    @property
    def text(self) -> str | None: ...
    @property
    def received_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class ClaimedComment:
    """A stored comment as processing sees it (plain data: no ORM state to flush)."""

    id: int
    platform: str
    comment_id: str
    verb: str
    field: str
    page_id: str
    live_id: int | None
    author_id: str | None
    author_name: str | None
    text: str | None
    received_at: datetime


_CLAIMED = (
    Comment.id,
    Comment.platform,
    Comment.comment_id,
    Comment.verb,
    Comment.field,
    Comment.page_id,
    Comment.live_id,
    Comment.author_id,
    Comment.author_name,
    Comment.text,
    Comment.received_at,
)


async def claim_received(session: AsyncSession, keys: Sequence[CommentKey]) -> list[ClaimedComment]:
    """Mark the still unprocessed comments among `keys` processed in this transaction and return
    them: a concurrent or later claim of the same comments gets nothing."""
    claimed: list[ClaimedComment] = []
    dialect = dialect_of(session)
    for chunk in key_chunks(dialect, dict.fromkeys(keys), _CHUNK):
        rows = await session.execute(
            update(Comment)
            .where(
                among(dialect, _KEY, chunk),
                Comment.status.in_(("received", "failed")),
            )
            .values(status="processed", processed_at=utcnow())
            .returning(*_CLAIMED)
        )
        claimed.extend(ClaimedComment(*tuple(row)) for row in rows.all())
    claimed.sort(key=lambda comment: comment.id)
    return claimed


async def record_readings(
    session: AsyncSession, readings: Sequence[tuple[int, str, list[JsonObject], str | None]]
) -> None:
    """What each comment was read as: (comment id, status, items, reason), one statement."""
    rows = [
        {"id": cid, "parse_status": status, "parse_items": items, "parse_reason": reason}
        for cid, status, items, reason in readings
    ]
    await update_rows(session, COMMENTS, "id", rows)


async def mark_failed(session: AsyncSession, key: CommentKey, error: str) -> None:
    await session.execute(
        update(Comment)
        .where(
            tuple_(*_KEY) == key,
            Comment.status == "received",
        )
        .values(status="failed", error=error[:2000])
    )

"""Comments as received: stored once per (platform, comment id, verb), then claimed once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol, cast

from sqlalchemy import Executable, Table, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import among, dialect_of, insert_new_rows, insert_rows, key_chunks, update_rows
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
    @property
    def created_time(self) -> datetime | None: ...


class ClaimedComment(NamedTuple):
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
    created_time: datetime | None  # when the viewer wrote it, by Meta's clock

    @property
    def key(self) -> CommentKey:
        return (self.platform, self.comment_id, self.verb)


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
    Comment.created_time,
)


async def claim_received(session: AsyncSession, keys: Sequence[CommentKey]) -> list[ClaimedComment]:
    """The still unprocessed comments among `keys`, claimed for this transaction: a concurrent
    or later claim of the same comments gets nothing once it commits. `record_readings` marks
    them processed, in the same transaction."""
    claimed: list[ClaimedComment] = []
    dialect = dialect_of(session)
    for chunk in key_chunks(dialect, dict.fromkeys(keys), _CHUNK):
        unprocessed = (among(dialect, _KEY, chunk), Comment.status.in_(("received", "failed")))
        claim: Executable
        if dialect == "postgresql":
            # A row lock, not a row version: every UPDATE writes a new version of the row and
            # of each of its indexes, and `record_readings` writes the one that counts. A
            # concurrent claim waits for our commit, then finds the rows processed.
            claim = select(*_CLAIMED).where(*unprocessed).with_for_update()
        else:
            # SQLite has no row locks; its write lock, taken here, is the claim.
            claim = (
                update(Comment).where(*unprocessed).values(status="processed").returning(*_CLAIMED)
            )
        rows = await session.execute(claim)
        claimed.extend(ClaimedComment(*tuple(row)) for row in rows.all())
    claimed.sort(key=lambda comment: comment.id)
    return claimed


async def store_processed(
    session: AsyncSession, rows: Sequence[Mapping[str, object]]
) -> list[ClaimedComment]:
    """Insert comments already read (rows with their reading, status `processed`), claimed
    for this transaction; a comment stored before is left alone and not returned."""
    inserted = await insert_new_rows(session, COMMENTS, rows, _CLAIMED)
    return sorted(
        (ClaimedComment(*row) for row in inserted),  # type: ignore[arg-type]
        key=lambda comment: comment.id,
    )


async def record_readings(
    session: AsyncSession, readings: Sequence[tuple[int, str, list[JsonObject], str | None]]
) -> None:
    """What each claimed comment was read as: (comment id, status, items, reason), and that it
    is processed, in one statement."""
    now = utcnow()
    rows = [
        {
            "id": cid,
            "status": "processed",
            "processed_at": now,
            "parse_status": status,
            "parse_items": items,
            "parse_reason": reason,
        }
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

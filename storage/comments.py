"""Comments as received: stored once per (platform, comment id, verb), then claimed once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import chunked, dialect_of, insert_ignoring_duplicates
from storage.models import Comment
from storage.types import utcnow

CommentKey = tuple[str, str, str]
_CHUNK = 500


async def store_comments(session: AsyncSession, rows: Sequence[Mapping[str, object]]) -> None:
    """Insert the comments not stored yet; a redelivered event finds its row and adds nothing."""
    if not rows:
        return
    statement = insert_ignoring_duplicates(dialect_of(session), Comment)
    for chunk in chunked(rows, _CHUNK):
        await session.execute(statement, list(chunk))


async def claim_received(session: AsyncSession, keys: Sequence[CommentKey]) -> list[Comment]:
    """Mark the still unprocessed comments among `keys` processed in this transaction and return
    them: a concurrent or later claim of the same comments gets nothing."""
    claimed: list[Comment] = []
    for chunk in chunked(dict.fromkeys(keys), _CHUNK):
        result = await session.scalars(
            update(Comment)
            .where(
                tuple_(Comment.platform, Comment.comment_id, Comment.verb).in_(chunk),
                Comment.status.in_(("received", "failed")),
            )
            .values(status="processed", processed_at=utcnow())
            .returning(Comment)
        )
        claimed.extend(result.all())
    claimed.sort(key=lambda comment: comment.id)
    return claimed


async def mark_failed(session: AsyncSession, key: CommentKey, error: str) -> None:
    await session.execute(
        update(Comment)
        .where(
            tuple_(Comment.platform, Comment.comment_id, Comment.verb) == key,
            Comment.status == "received",
        )
        .values(status="failed", error=error[:2000])
    )

"""The few reads and writes the staff bot makes: review cards, the Telegram messages that show
a review, and which staff chats an alert has reached. Each runs in its caller's session."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.reviews import describe
from bot.staffbot.cards import ReviewCard
from storage.models import Comment, JsonObject, Live, OutboxMessage, ReviewItem

SENT_TO = "sent_to"  # an alert payload's list of the staff chats it has reached


@dataclass(frozen=True, slots=True)
class ShownOn:
    """One Telegram message showing a review."""

    chat_id: int
    message_id: int

    def to_json(self) -> JsonObject:
        return {"chat_id": self.chat_id, "message_id": self.message_id}


async def card_by_review(session: AsyncSession, review_id: int) -> ReviewCard | None:
    return await _card(session, ReviewItem.id == review_id)


async def card_by_comment(session: AsyncSession, comment_id: int) -> ReviewCard | None:
    return await _card(session, ReviewItem.comment_id == comment_id)


async def shown_on(session: AsyncSession, review_id: int) -> list[ShownOn]:
    messages = await session.scalar(select(ReviewItem.messages).where(ReviewItem.id == review_id))
    return _shown(messages or [])


async def record_shown(session: AsyncSession, review_id: int, shown: ShownOn) -> ReviewCard | None:
    """Remember a message showing the review; returns the card as it is once that is written,
    so a decision taken meanwhile (its press saw the list without this message) is not missed."""
    review = await session.get(ReviewItem, review_id)
    if review is None:
        return None
    if shown not in _shown(review.messages):
        review.messages = [*review.messages, shown.to_json()]  # a new list: JSON is not mutable
        await session.flush()
    await session.refresh(review)  # the status as committed now, not as first read
    return await card_by_review(session, review_id)


async def record_alert_sent(
    session: AsyncSession, outbox_id: int, payload: JsonObject, chats: list[int]
) -> None:
    """Keep the chats an alert reached in its payload, so a retry skips them."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id)
        .values(payload={**payload, SENT_TO: chats})
    )


def alert_sent_to(payload: JsonObject) -> set[int]:
    chats = payload.get(SENT_TO)
    return {chat for chat in chats if isinstance(chat, int)} if isinstance(chats, list) else set()


async def _card(session: AsyncSession, where: ColumnElement[bool]) -> ReviewCard | None:
    row = (
        await session.execute(
            select(ReviewItem, Comment, Live.title)
            .join(Comment, Comment.id == ReviewItem.comment_id)
            .outerjoin(Live, Live.id == ReviewItem.live_id)
            .where(where)
        )
    ).one_or_none()
    if row is None:
        return None
    review, comment, title = row
    decided = review.status != "open"
    return ReviewCard(
        review_id=review.id,
        live_id=review.live_id,
        live_title=title,
        platform=comment.platform,
        buyer=comment.author_name or comment.author_id or "someone",
        comment=comment.text or "",
        reason=review.reason,
        options=tuple(describe(option.get("items", [])) for option in review.candidates),
        decision=str((review.decision or {}).get("label", "")) if decided else None,
        decided_by=review.decided_by if decided else None,
    )


def _shown(messages: list[JsonObject]) -> list[ShownOn]:
    return [
        ShownOn(int(m["chat_id"]), int(m["message_id"]))
        for m in messages
        if isinstance(m.get("chat_id"), int) and isinstance(m.get("message_id"), int)
    ]

"""Staff decide on uncertain comments: a chosen reading orders through the same path as an
automatic one (stock, limits, waitlist, reply, sync); a rejection gets a polite reply."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import replies
from bot.cart import Item
from bot.lives import ordering_state, written_at
from bot.processing import CommentProcessor, is_blocked, languages_of, says_blocked
from bot.runtime import Runtime
from storage.db import retrying_races
from storage.models import Comment, Live, ReviewItem, most_characters
from storage.outbox import add_outbox
from storage.types import utcnow

REJECT = "reject"
MOST_STAFF_NAME = most_characters(ReviewItem.decided_by)


class ReviewRefused(ValueError):
    """The choice is not one of the review's options (a 4xx for whoever asked)."""


class BuyerBlocked(ReviewRefused):
    """The buyer was blocked after the review was made: an order needs a knowing decision."""


class UnknownReview(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Decided:
    review_id: int
    decided_now: bool  # False: someone decided first; this press changed nothing
    decision: str  # "reject" or the chosen reading, e.g. "A1-RED-M x1"
    decided_by: str


def describe(items: list[dict[str, object]]) -> str:
    return ", ".join(
        f"{'cancel ' if i['action'] == 'cancel' else ''}{i['sku']} x{i['quantity'] or 'all'}"
        for i in items
    )


async def decide_now(runtime: Runtime, review_id: int, choice: int | str, staff: str) -> Decided:
    """`decide` in a transaction of its own, run again when it loses a race with a pipeline
    batch (both opening the buyer's first cart, say)."""
    processor = CommentProcessor(runtime.settings, runtime.stock, runtime.checkout_secret)

    async def transaction() -> Decided:
        async with runtime.sessions.begin() as session:
            return await decide(session, processor, review_id, choice, staff, now=utcnow())

    return await retrying_races(transaction, f"a decision on review {review_id}")


async def decide(
    session: AsyncSession,
    processor: CommentProcessor,
    review_id: int,
    choice: int | str,
    staff: str,
    *,
    now: datetime,
) -> Decided:
    review = await session.get(ReviewItem, review_id)
    if review is None:
        raise UnknownReview(review_id)
    if review.status != "open":
        return _already(review)
    items = _chosen(review, choice)
    label = REJECT if items is None else describe(items)
    won = await session.scalar(
        update(ReviewItem)
        .where(ReviewItem.id == review_id, ReviewItem.status == "open")
        .values(
            status="decided",
            decided_by=staff,
            decided_at=now,
            decision={"choice": choice, "label": label},
        )
        .returning(ReviewItem.id)
    )
    if won is None:  # another press won the race
        await session.refresh(review)
        return _already(review)
    comment = await session.get(Comment, review.comment_id)
    assert comment is not None
    live = await session.get(Live, comment.live_id) if comment.live_id is not None else None
    if items is None or live is None:
        await _reject(session, processor, comment)
    elif (
        ordering_state(
            live, written_at(comment.created_time, comment.received_at), instagram_live=False
        )
        == "closed"
    ):
        await processor.act(session, [], closed=[(comment, live)], now=now)
    else:
        if not says_blocked(review.reason) and await is_blocked(session, comment):
            # Raised after the decision is written: the caller's transaction undoes it.
            raise BuyerBlocked(
                "The buyer was blocked after this comment came in: reject it, or unblock them "
                "(livecart members import) to order."
            )
        chosen = tuple(_item(i) for i in items)
        await processor.act(session, [(comment, live, chosen)], now=now, honour_blocks=False)
    return Decided(review_id, True, label, staff)


async def open_reviews(session: AsyncSession, limit: int = 50) -> list[tuple[ReviewItem, Comment]]:
    """What still waits, oldest first."""
    rows = await session.execute(
        select(ReviewItem, Comment)
        .join(Comment, Comment.id == ReviewItem.comment_id)
        .where(ReviewItem.status == "open")
        .order_by(ReviewItem.created_at, ReviewItem.id)
        .limit(limit)
    )
    return [(review, comment) for review, comment in rows.all()]


def _chosen(review: ReviewItem, choice: int | str) -> list[dict[str, object]] | None:
    if choice == REJECT:
        return None
    if (
        isinstance(choice, int)
        and not isinstance(choice, bool)
        and 0 <= choice < len(review.candidates)
    ):
        items = review.candidates[choice].get("items")
        if isinstance(items, list):
            return items
    raise ReviewRefused(
        f"Choose one of the {len(review.candidates)} readings (0-{len(review.candidates) - 1}) "
        f'or "{REJECT}".'
        if review.candidates
        else f'This review has no readings to choose; "{REJECT}" it or ask the buyer.'
    )


def _item(stored: dict[str, object]) -> Item:
    quantity = stored.get("quantity")
    sku, amount = str(stored["sku"]), quantity if isinstance(quantity, int) else None
    return (
        Item("cancel", sku, amount)
        if stored.get("action") == "cancel"
        else Item("add", sku, amount)
    )


def _already(review: ReviewItem) -> Decided:
    label = str((review.decision or {}).get("label", ""))
    return Decided(review.id, False, label, review.decided_by or "")


async def _reject(session: AsyncSession, processor: CommentProcessor, comment: Comment) -> None:
    language = (await languages_of(session, [comment])).get(
        (comment.platform, comment.page_id), "zh-Hant"
    )
    await add_outbox(
        session,
        processor.reply_rows(comment, replies.rejected_reply(language), language, public=False),
    )

"""/queue: the comments still waiting for a staff decision, oldest first."""

from __future__ import annotations

from sqlalchemy import func, select
from telegram import Update

from bot.reviews import open_reviews
from bot.staffbot.context import StaffContext
from bot.staffbot.replying import answer, clip, listing, shop_time
from storage.models import Comment, ReviewItem

SHOWN = 30
_CLIP = 60


async def show_queue(update: Update, context: StaffContext) -> None:
    settings = context.runtime.settings
    async with context.runtime.sessions() as session:
        waiting = await open_reviews(session, limit=SHOWN)
        total = await session.scalar(
            select(func.count()).select_from(ReviewItem).where(ReviewItem.status == "open")
        )
    lines = [_line(review, comment, settings.shop_timezone) for review, comment in waiting]
    await answer(update, context, queue_text(lines, int(total or 0)))


def queue_text(lines: list[str], total: int) -> str:
    if total == 0:
        return "Nothing waits for review."
    head = f"{total} waiting for review, oldest first:"
    if total > len(lines):
        lines = [*lines, f"… and {total - len(lines)} more (GET /api/reviews lists them all)"]
    return listing(head, lines)


def _line(review: ReviewItem, comment: Comment, timezone: str) -> str:
    shown = clip(comment.text or "", _CLIP)
    where = f"live {review.live_id}" if review.live_id is not None else "no live"
    buyer = comment.author_name or comment.author_id or "someone"
    when = shop_time(review.created_at, timezone)[5:]  # MM-DD HH:MM
    return f"#{review.id} · {when} · {where} · {buyer}: {shown} ({clip(review.reason, _CLIP)})"

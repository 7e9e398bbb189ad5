"""A staff member presses a review button: decide (once, whoever presses first), answer the
press, then show the decision on every message of that review."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Update, User
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler

from bot.reviews import (
    MOST_STAFF_NAME,
    REJECT,
    Decided,
    ReviewRefused,
    UnknownReview,
    decide_now,
)
from bot.staffbot.callback_data import PATTERN, read_review_button
from bot.staffbot.card_edits import show_decided
from bot.staffbot.context import StaffContext
from bot.staffbot.records import ShownOn, card_by_review, shown_on
from bot.staffbot.telegram_calls import with_retries

log = logging.getLogger("livecart.staffbot")


async def decide_from_button(update: Update, context: StaffContext) -> None:
    query = update.callback_query
    assert query is not None, "registered for callback queries only"
    button = read_review_button(query.data)
    assert button is not None, "the handler's pattern lets only review buttons through"
    answer = "Something went wrong on our side; please press again."
    decided: Decided | None = None
    try:
        decided = await decide_now(
            context.runtime, button.review_id, button.choice, staff_name(query.from_user)
        )
        answer = press_answer(decided)
    except UnknownReview:
        answer = "This review no longer exists."
    except ReviewRefused as refused:
        answer = str(refused)
    finally:
        # Always, even when deciding failed: an unanswered press spins on the staff's phone.
        await _answer(query, answer)
    if decided is not None:
        await _show_everywhere(context, decided.review_id, _pressed(query))


def review_press_handler() -> CallbackQueryHandler[StaffContext, None]:
    return CallbackQueryHandler(decide_from_button, pattern=PATTERN)


def press_answer(decided: Decided) -> str:
    shown = "rejected" if decided.decision == REJECT else decided.decision
    if not decided.decided_now:
        return f"Already decided by {decided.decided_by}: {shown}"
    return "Rejected" if decided.decision == REJECT else f"Ordered {decided.decision}"


def staff_name(user: User) -> str:
    name = user.full_name.strip() or (user.username or str(user.id))
    return name[:MOST_STAFF_NAME]


async def _show_everywhere(context: StaffContext, review_id: int, pressed: ShownOn | None) -> None:
    async with context.runtime.sessions() as session:
        card = await card_by_review(session, review_id)
        messages = await shown_on(session, review_id)
    if card is None or card.is_open:
        return
    # The pressed message too, in case it was sent but not yet recorded.
    await show_decided(context.bot, card, [*messages, *([pressed] if pressed else [])])


def _pressed(query: CallbackQuery) -> ShownOn | None:
    message = query.message
    if message is None:
        return None
    return ShownOn(message.chat.id, message.message_id)


async def _answer(query: CallbackQuery, text: str) -> None:
    try:
        # Telegram shows at most 200 characters.
        await with_retries(lambda: query.answer(text[:200]), what="answering a button press")
    except TelegramError as error:
        log.warning("could not answer a review button press: %s", error)

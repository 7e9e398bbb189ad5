"""Once a review is decided, every message showing it says so and loses its buttons."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from telegram import Bot
from telegram.error import BadRequest, TelegramError

from bot.staffbot.cards import ReviewCard, decided_text
from bot.staffbot.records import ShownOn
from bot.staffbot.telegram_calls import with_retries

log = logging.getLogger("livecart.staffbot")
# Edits that found the message already as wanted, or gone: nothing left to do.
_DONE_ALREADY = ("message is not modified", "message to edit not found")


async def show_decided(
    bot: Bot, card: ReviewCard, messages: Iterable[ShownOn], stop: asyncio.Event | None = None
) -> None:
    text = decided_text(card)
    for shown in dict.fromkeys(messages):  # once each, in order
        await _edit(bot, shown, text, stop)


async def _edit(bot: Bot, shown: ShownOn, text: str, stop: asyncio.Event | None) -> None:
    try:
        await with_retries(
            # No reply_markup: Telegram drops the buttons.
            lambda: bot.edit_message_text(text, shown.chat_id, shown.message_id),
            stop=stop,
            what="editing a review card",
        )
    except BadRequest as error:
        if not any(done in str(error).lower() for done in _DONE_ALREADY):
            log.warning("review card in chat %s not edited: %s", shown.chat_id, error)
    except TelegramError as error:
        log.warning("review card in chat %s not edited: %s", shown.chat_id, error)

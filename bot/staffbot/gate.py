"""Strangers: a chat not in TELEGRAM_STAFF_CHATS gets one polite refusal, then silence, and
no update of theirs reaches a staff handler. Runs first (group -1) for every update kind."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, TypeHandler

from bot.staffbot.context import StaffContext

log = logging.getLogger("livecart.staffbot")
GATE_GROUP = -1
# Says nothing about the shop, its lives or its stock: only that this bot is not for them.
REFUSAL = "Sorry, this is a private bot for a shop's staff, so it can't help you here."


async def turn_strangers_away(update: Update, context: StaffContext) -> None:
    chat = update.effective_chat
    if chat is not None and chat.id in context.staff_chats:
        return  # staff: on to the handlers
    if update.callback_query is not None:
        await _stop_the_spinner(update)
    if chat is not None and chat.id not in context.bot_data.refused_chats:
        # Remembered before the send, so two updates handled at once refuse only once.
        context.bot_data.refused_chats.add(chat.id)
        # The id helps an operator who meant to add this chat to TELEGRAM_STAFF_CHATS.
        log.info("staff bot: refused chat %s (not in TELEGRAM_STAFF_CHATS)", chat.id)
        await _refuse(update, context, chat.id)
    raise ApplicationHandlerStop


def stranger_gate() -> TypeHandler[Update, StaffContext, None]:
    return TypeHandler(Update, turn_strangers_away)


async def _stop_the_spinner(update: Update) -> None:
    assert update.callback_query is not None
    try:
        await update.callback_query.answer()
    except TelegramError as error:
        log.info("staff bot: could not answer a stranger's button press (%s)", error)


async def _refuse(update: Update, context: StaffContext, chat_id: int) -> None:
    try:
        await context.bot.send_message(chat_id, REFUSAL)
    except TelegramError as error:
        log.info("staff bot: could not refuse chat %s (%s)", chat_id, error)

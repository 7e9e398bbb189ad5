"""One message to one staff chat, and what came of it: delivered, refused for good (the bot was
removed, the chat is gone), or unreachable for now (the network, Telegram's 5xx)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import ChatMigrated, InvalidToken, TelegramError

from bot.staffbot.telegram_calls import DEFAULT_RETRIES, RetryPolicy, is_transient, with_retries

log = logging.getLogger("livecart.staffbot")


@dataclass(frozen=True, slots=True)
class Delivered:
    chat_id: int
    message: Message


@dataclass(frozen=True, slots=True)
class Refused:
    chat_id: int
    error: str


@dataclass(frozen=True, slots=True)
class Unreachable:
    chat_id: int
    error: str


ChatResult = Delivered | Refused | Unreachable


async def send_to_chat(
    bot: Bot,
    chat_id: int,
    text: str,
    *,
    keyboard: InlineKeyboardMarkup | None = None,
    policy: RetryPolicy = DEFAULT_RETRIES,
    stop: asyncio.Event | None = None,
) -> ChatResult:
    """Waits out flood control however long Telegram asks; raises Stopped if `stop` is set."""
    try:
        message = await with_retries(
            lambda: bot.send_message(chat_id, text, reply_markup=keyboard),
            policy=policy,
            stop=stop,
            what=f"sending to staff chat {chat_id}",
        )
    except ChatMigrated as moved:
        log.warning(
            "staff chat %s became supergroup %s: put %s in TELEGRAM_STAFF_CHATS",
            chat_id,
            moved.new_chat_id,
            moved.new_chat_id,
        )
        return Refused(chat_id, str(moved))
    except TelegramError as error:
        # A revoked token is the operator's to fix: the message waits for it, like a network.
        if is_transient(error) or isinstance(error, InvalidToken):
            return Unreachable(chat_id, str(error))
        log.warning("staff chat %s refused a message: %s", chat_id, error)
        return Refused(chat_id, str(error))
    return Delivered(chat_id, message)

"""Answering a staff member where they asked, in plain text (buyer names and comments are
shown as typed, so no markup to escape), within Telegram's length limit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import Update

from bot.staffbot.context import StaffContext
from bot.staffbot.telegram_calls import with_retries

MAX_TEXT = 4096


async def answer(update: Update, context: StaffContext, text: str) -> None:
    chat = update.effective_chat
    assert chat is not None, "commands come from a chat"
    await with_retries(
        lambda: context.bot.send_message(chat.id, fit(text)), what="answering a command"
    )


def clip(text: str, most: int) -> str:
    """On one line, at most `most` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= most else flat[: most - 1] + "…"


def fit(text: str, most: int = MAX_TEXT) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def listing(head: str, lines: Sequence[str], *, most: int = MAX_TEXT) -> str:
    """`head` and as many whole lines as fit, then how many were left out."""
    kept, size = [head], len(head)
    for index, line in enumerate(lines):
        left_after = len(lines) - index - 1
        room_for_tail = len(f"\n… and {left_after} more") if left_after else 0
        if size + 1 + len(line) + room_for_tail > most:
            kept.append(f"… and {len(lines) - index} more")
            break
        kept.append(line)
        size += 1 + len(line)
    return "\n".join(kept)


def shop_time(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")

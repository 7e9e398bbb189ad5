"""/start and /help: what the staff bot does here; also the phone's command menu."""

from __future__ import annotations

from telegram import Update

from bot.staffbot.context import StaffContext
from bot.staffbot.replying import answer

COMMANDS: tuple[tuple[str, str], ...] = (
    ("queue", "Comments waiting for review, oldest first"),
    ("lives", "Open lives and the product on screen"),
    ("now", "Set the product on screen: /now A3 (or /now LIVE_ID A3)"),
    ("stock", "Stock left: /stock or /stock SKU"),
    ("end", "End the live: /end (or /end LIVE_ID)"),
    ("report", "The live's report: /report (or /report LIVE_ID)"),
)


async def show_help(update: Update, context: StaffContext) -> None:
    lines = [f"/{name} · {description}" for name, description in COMMANDS]
    intro = "Comments that need a decision arrive here with a button per likely reading."
    await answer(update, context, "\n".join([intro, *lines]))

"""/lives: the lives not yet closed, with what each shows and has sold."""

from __future__ import annotations

from telegram import Update

from bot.staffbot.context import StaffContext
from bot.staffbot.live_choice import open_lives
from bot.staffbot.replying import answer, listing
from webhooks.api_lives import live_json
from webhooks.responses import JsonObject


async def show_lives(update: Update, context: StaffContext) -> None:
    async with context.runtime.sessions() as session:
        lives = [await live_json(session, live) for live in await open_lives(session)]
    await answer(update, context, lives_text(lives))


def lives_text(lives: list[JsonObject]) -> str:
    if not lives:
        return "No live is on now."
    return listing("Open lives:", [_line(live) for live in lives])


def _line(live: JsonObject) -> str:
    title = f" {live['title']}" if live["title"] else ""
    current = live["current"] or "nothing"
    return (
        f"#{live['id']}{title} · {live['status']} · on screen: {current} · "
        f"{live['orders']} orders, {live['units_reserved']} units reserved"
    )

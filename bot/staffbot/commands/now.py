"""/now A3: the product on screen, which bare "+1" comments order (/now alone shows it)."""

from __future__ import annotations

from telegram import Update

from bot import live_sessions
from bot.live_sessions import LiveRefused
from bot.staffbot.context import StaffContext
from bot.staffbot.live_choice import ON_AIR, NoLiveChosen, choose_live, live_id_arg
from bot.staffbot.replying import answer

USAGE = "/now A3, or /now LIVE_ID A3"


async def set_on_screen(update: Update, context: StaffContext) -> None:
    live_id, words = live_id_arg(context.args or [])
    keyword = " ".join(words) or None
    async with context.runtime.sessions.begin() as session:
        try:
            live = await choose_live(session, live_id, statuses=ON_AIR, usage=USAGE)
            if keyword is not None:
                live_sessions.set_current(live, keyword)
        except (NoLiveChosen, LiveRefused) as refused:
            text = str(refused)
        else:
            text = on_screen_text(live.id, live.current_keyword, changed=keyword is not None)
    await answer(update, context, text)


def on_screen_text(live_id: int, current: str | None, *, changed: bool) -> str:
    if current is None:
        return f"Live {live_id} shows no product. Choose one: {USAGE}"
    if changed:
        return f'Live {live_id} now shows {current}: a bare "+1" orders it.'
    return f"Live {live_id} shows {current}. Change it: {USAGE}"

"""/end [LIVE_ID]: the broadcast is over; the replay keeps ordering for REPLAY_WINDOW."""

from __future__ import annotations

from datetime import datetime

from telegram import Update

from bot import live_sessions
from bot.live_sessions import LiveRefused
from bot.staffbot.context import StaffContext
from bot.staffbot.live_choice import ON_AIR, NoLiveChosen, choose_live
from bot.staffbot.replying import answer, shop_time
from storage.models import Live
from storage.types import typed_id

USAGE = "/end LIVE_ID"


async def end_live(update: Update, context: StaffContext) -> None:
    args = context.args or []
    if len(args) > 1 or (args and typed_id(args[0]) is None):
        await answer(update, context, f"Name the live by its number: {USAGE} (/lives lists them)")
        return
    settings = context.runtime.settings
    async with context.runtime.sessions.begin() as session:
        try:
            live = await choose_live(
                session, typed_id(args[0]) if args else None, statuses=ON_AIR, usage=USAGE
            )
            _refuse_unless_on_air(live, settings.shop_timezone)
            live_sessions.end(live, settings.replay_window)
        except (NoLiveChosen, LiveRefused) as refused:
            text = str(refused)
        else:
            assert live.replay_deadline is not None
            text = ended_text(live.id, live.replay_deadline, settings.shop_timezone)
    await answer(update, context, text)


def ended_text(live_id: int, replay_deadline: datetime, timezone: str) -> str:
    return (
        f"Live {live_id} has ended. Its replay takes orders until "
        f"{shop_time(replay_deadline, timezone)}."
    )


def _refuse_unless_on_air(live: Live, timezone: str) -> None:
    if live.status == "replay" and live.replay_deadline is not None:
        raise LiveRefused(
            f"Live {live.id} has already ended; its replay takes orders until "
            f"{shop_time(live.replay_deadline, timezone)}."
        )
    if live.status != "live":
        raise LiveRefused(f"Live {live.id} has already closed.")

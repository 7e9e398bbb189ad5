"""A stranger gets one polite refusal, learns nothing about the shop and changes nothing."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.staffbot.gate import REFUSAL
from storage.models import Live
from tests.pipeline import comment_on, start_test_live
from tests.staffbot.support import STAFF, STRANGER, StaffBot, reviews


async def test_a_stranger_is_refused_once_and_learns_nothing(staff_bot: StaffBot) -> None:
    fake, runtime = staff_bot.fake, staff_bot.runtime
    await start_test_live(runtime, current="A1")
    await comment_on(runtime, [("u1", "A1+1")])

    refusal = await staff_bot.ask("/queue", chat=STRANGER, user=STRANGER, name="Eve")
    for text in ("/stock", "/now A2", "/end", "/lives", "hello?"):
        fake.user_sends(STRANGER, STRANGER, text, first_name="Eve")
    (review,) = await reviews(runtime)
    press = fake.user_presses(
        STRANGER, STRANGER, refusal.message_id, f"rv:{review.id}:0", check_button=False
    )
    # A staff question asked after all of that is answered: the stranger's updates were seen.
    await staff_bot.ask("/help")
    await fake.wait_for_answer(press)
    await asyncio.sleep(0.2)

    assert refusal.text == REFUSAL
    assert [m.text for m in fake.sent if m.chat_id == STRANGER] == [REFUSAL]
    assert fake.answered_callbacks[press].text is None  # the spinner stops, nothing said
    async with runtime.sessions() as session:
        live = (await session.scalars(select(Live))).one()
    assert (live.status, live.current_keyword) == ("live", "A1")  # /now and /end did nothing
    (still,) = await reviews(runtime)
    assert still.status == "open"
    assert [m.chat_id for m in fake.sent if m.chat_id != STRANGER] == [STAFF]  # just /help

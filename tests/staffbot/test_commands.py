"""Host commands: each answers correctly and changes what it should."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from storage.models import Live
from tests.pipeline import comment_on, start_test_live
from tests.staffbot.support import GROUP, KEN, STAFF, StaffBot, reviews


async def live_row(staff_bot: StaffBot, live_id: int) -> Live:
    async with staff_bot.runtime.sessions() as session:
        live = await session.get(Live, live_id)
        assert live is not None
        return live


async def test_queue_lists_what_waits_oldest_first(staff_bot: StaffBot) -> None:
    assert (await staff_bot.ask("/queue")).text == "Nothing waits for review."
    live_id = await start_test_live(staff_bot.runtime)
    await comment_on(staff_bot.runtime, [("u1", "A1+2"), ("u2", "Z9+1")])
    first, second = await reviews(staff_bot.runtime)

    answer = (await staff_bot.ask("/queue")).text or ""

    lines = answer.splitlines()
    assert lines[0] == "2 waiting for review, oldest first:"
    assert lines[1].startswith(f"#{first.id} · ") and f"live {live_id} · Buyer u1: A1+2" in lines[1]
    assert lines[2].startswith(f"#{second.id} · ") and "Buyer u2: Z9+1" in lines[2]

    await staff_bot.sender.drain_once()
    card = next(c for c in await staff_bot.cards(STAFF) if f"#{first.id} " in (c.text or ""))
    query = staff_bot.fake.user_presses(STAFF, STAFF, card.message_id, f"rv:{first.id}:0")
    await staff_bot.fake.wait_for_answer(query)
    after = (await staff_bot.ask("/queue")).text or ""
    assert after.splitlines()[0] == "1 waiting for review, oldest first:"
    assert "Z9+1" in after and "A1+2" not in after


async def test_lives_lists_open_lives_with_the_product_on_screen(staff_bot: StaffBot) -> None:
    assert (await staff_bot.ask("/lives")).text == "No live is on now."
    first = await start_test_live(staff_bot.runtime, current="A2")
    second = await start_test_live(staff_bot.runtime, video_id="999")
    closed = await start_test_live(staff_bot.runtime, video_id="998")
    async with staff_bot.runtime.sessions.begin() as session:
        live = await session.get(Live, closed)
        assert live is not None
        live.status = "closed"
    await comment_on(staff_bot.runtime, [("u1", "A2+3")])

    answer = (await staff_bot.ask("/lives")).text

    assert answer == "\n".join(
        [
            "Open lives:",
            f"#{first} · live · on screen: A2 · 1 orders, 3 units reserved",
            f"#{second} · live · on screen: nothing · 0 orders, 0 units reserved",
        ]
    )


async def test_now_sets_the_product_on_screen_of_the_only_live(staff_bot: StaffBot) -> None:
    live_id = await start_test_live(staff_bot.runtime, current="A1")

    answer = (await staff_bot.ask("/now a2")).text

    assert answer == f'Live {live_id} now shows A2: a bare "+1" orders it.'
    assert (await live_row(staff_bot, live_id)).current_keyword == "A2"
    await comment_on(staff_bot.runtime, [("u1", "+1")])  # a bare +1 now orders the tumbler
    assert (await staff_bot.ask("/stock A2")).text == (
        "A2 保溫杯: 29 available (30 on hand, 1 reserved, 0 sold)"
    )
    assert (await staff_bot.ask("/now")).text == (
        f"Live {live_id} shows A2. Change it: /now A3, or /now LIVE_ID A3"
    )


async def test_now_refuses_a_keyword_not_in_the_lineup(staff_bot: StaffBot) -> None:
    live_id = await start_test_live(staff_bot.runtime, current="A1")

    assert (await staff_bot.ask("/now Z9")).text == "Z9 is not in this live's lineup."
    assert (await live_row(staff_bot, live_id)).current_keyword == "A1"


async def test_now_asks_which_live_when_several_are_on(staff_bot: StaffBot) -> None:
    first = await start_test_live(staff_bot.runtime)
    second = await start_test_live(staff_bot.runtime, video_id="999")

    asked = (await staff_bot.ask("/now B3", chat=GROUP, user=KEN)).text
    told = (await staff_bot.ask(f"/now {second} B3", chat=GROUP, user=KEN)).text

    assert asked == (
        f"Several lives are on: {first}, {second}. Say which one: /now A3, or /now LIVE_ID A3"
    )
    assert told == f'Live {second} now shows B3: a bare "+1" orders it.'
    assert (await live_row(staff_bot, first)).current_keyword is None
    assert (await live_row(staff_bot, second)).current_keyword == "B3"


async def test_stock_shows_one_sku_or_all(staff_bot: StaffBot) -> None:
    await start_test_live(staff_bot.runtime)
    await comment_on(staff_bot.runtime, [("u1", "A12+4")])

    one = (await staff_bot.ask("/stock a12")).text
    unknown = (await staff_bot.ask("/stock NOPE")).text
    every = (await staff_bot.ask("/stock")).text or ""

    assert one == "A12 帆布包: 6 available (10 on hand, 4 reserved, 0 sold)"
    assert unknown == "There is no SKU NOPE."
    lines = every.splitlines()
    assert lines[0] == "Available (on hand / reserved / sold):"
    assert "A12: 6 (10/4/0)" in lines
    assert "APPLE-BOX: 8 (8/0/0)" in lines
    assert len(lines) == 1 + 10  # every SKU of the lineup


async def test_end_moves_the_live_to_its_replay(staff_bot: StaffBot) -> None:
    live_id = await start_test_live(staff_bot.runtime)

    answer = (await staff_bot.ask("/end")).text or ""
    again = (await staff_bot.ask(f"/end {live_id}")).text or ""

    live = await live_row(staff_bot, live_id)
    assert live.status == "replay"
    assert live.ended_at is not None and live.replay_deadline is not None
    assert live.replay_deadline - live.ended_at == timedelta(hours=24)
    deadline = live.replay_deadline.astimezone(ZoneInfo("Asia/Taipei")).strftime("%Y-%m-%d %H:%M")
    assert answer == f"Live {live_id} has ended. Its replay takes orders until {deadline}."
    assert again == (f"Live {live_id} has already ended; its replay takes orders until {deadline}.")
    assert (await staff_bot.ask("/end")).text == "No live is on now."


async def test_report_sends_the_live_in_short_with_its_chart(staff_bot: StaffBot) -> None:
    live_id = await start_test_live(staff_bot.runtime)
    await comment_on(
        staff_bot.runtime,
        [("u1", "A12+10"), ("u2", "A12+2"), ("u3", "B3+2"), ("u4", "hello"), ("u5", "Z9+1")],
    )

    photo = await staff_bot.ask("/report")

    assert photo.photo is not None and photo.photo.startswith(b"\x89PNG")
    assert (photo.caption or "").splitlines() == [
        f"Live {live_id} · live",
        "Comments: 5 from 5 people, 3 orders, 1 for review",
        "Orders: 2 from 2 buyers (2 reserved, 0 confirmed; 0 cancelled, 0 expired)",
        "Units: 12 · Sales: 4,740 (paid: 0)",
        "Waitlist: 2 more units wanted (900)",
        "Top: A12 x10 (4,500), B3 x2 (240)",
        "Sold out: A12",
    ]
    assert [m.chat_id for m in staff_bot.fake.sent] == [STAFF]  # one message: photo and text


async def test_report_names_a_live_or_says_there_is_none(staff_bot: StaffBot) -> None:
    assert (await staff_bot.ask("/report")).text == "No live is on now."
    assert (await staff_bot.ask("/report 999")).text == "There is no live 999. /lives lists them."
    assert (await staff_bot.ask("/report x")).text == (
        "Name the live by its number: /report LIVE_ID (/lives lists them)"
    )


async def test_help_lists_the_commands(staff_bot: StaffBot) -> None:
    answer = (await staff_bot.ask("/help")).text or ""

    for command in ("/queue", "/lives", "/now", "/stock", "/end", "/report"):
        assert command in answer

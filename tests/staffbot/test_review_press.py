"""A review button press decides once, orders through the same path as an automatic order,
answers the press and shows the decision on every card of that review."""

from __future__ import annotations

import pytest

from tests.pipeline import comment_on, start_test_live
from tests.staffbot.support import GROUP, KEN, STAFF, StaffBot, outbox, reviews
from tests.test_ordering import block, cart, stock_of


@pytest.mark.parametrize("queue_backend", ["database", "redis"])
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_press_orders_replies_to_the_buyer_and_edits_every_card(
    staff_bot: StaffBot,
) -> None:
    fake, runtime = staff_bot.fake, staff_bot.runtime
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A1+1")])
    await staff_bot.sender.drain_once()
    (review,) = await reviews(runtime)
    (mine,) = await staff_bot.cards(STAFF)
    (group,) = await staff_bot.cards(GROUP)

    query = fake.user_presses(STAFF, STAFF, mine.message_id, f"rv:{review.id}:1", first_name="Mei")

    assert (await fake.wait_for_answer(query)).text == "Ordered A1-RED-L x1"
    assert await cart(runtime, "u1") == {"A1-RED-L": 1}
    assert await stock_of(runtime, "A1-RED-L") == (20, 1, 19)
    (reply,) = await outbox(runtime, "reply")
    assert "A1-RED-L" in reply.payload["text"]
    assert f"{runtime.settings.public_url}/checkout/" in reply.payload["text"]
    assert [e.payload["event"] for e in await outbox(runtime, "store_event")] == ["order.reserved"]
    for card in (mine, group):
        edit = await fake.wait_for_edit(card.chat_id, card.message_id)
        assert edit.reply_markup is None  # the buttons are gone
        assert edit.text is not None
        assert edit.text.startswith("Ordered A1-RED-L x1 · decided by Mei\n")
        assert "Comment: A1+1" in edit.text
    (decided,) = await reviews(runtime)
    assert (decided.status, decided.decided_by) == ("decided", "Mei")


async def test_a_double_press_decides_once(staff_bot: StaffBot) -> None:
    fake, runtime = staff_bot.fake, staff_bot.runtime
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A1+1")])
    await staff_bot.sender.drain_once()
    (review,) = await reviews(runtime)
    (mine,) = await staff_bot.cards(STAFF)
    (group,) = await staff_bot.cards(GROUP)

    # Both presses are queued together, so the bot handles them side by side.
    first = fake.user_presses(STAFF, STAFF, mine.message_id, f"rv:{review.id}:0", first_name="Mei")
    second = fake.user_presses(GROUP, KEN, group.message_id, f"rv:{review.id}:3", first_name="Ken")

    answers = sorted([(await fake.wait_for_answer(q)).text or "" for q in (first, second)])
    winner = "Mei" if answers[1].startswith("Ordered A1-RED-M") else "Ken"
    won = "A1-RED-M x1" if winner == "Mei" else "A1-BLU-L x1"
    assert answers == [f"Already decided by {winner}: {won}", f"Ordered {won}"]
    assert sum((await cart(runtime, "u1")).values()) == 1
    assert len(await outbox(runtime, "reply")) == 1
    for card in (mine, group):
        edit = await fake.wait_for_edit(card.chat_id, card.message_id)
        assert edit.text is not None and edit.text.startswith(
            f"Ordered {won} · decided by {winner}"
        )


async def test_reject_answers_the_buyer_politely(staff_bot: StaffBot) -> None:
    fake, runtime = staff_bot.fake, staff_bot.runtime
    await start_test_live(runtime)
    await comment_on(runtime, [("u2", "Z9+1")])
    await staff_bot.sender.drain_once()
    (review,) = await reviews(runtime)
    (card,) = await staff_bot.cards(STAFF)

    query = fake.user_presses(STAFF, STAFF, card.message_id, f"rv:{review.id}:x", first_name="Mei")

    assert (await fake.wait_for_answer(query)).text == "Rejected"
    edit = await fake.wait_for_edit(STAFF, card.message_id)
    assert edit.text is not None and edit.text.startswith("Rejected by Mei\n")
    (reply,) = await outbox(runtime, "reply")
    assert "無法成立" in reply.payload["text"]
    assert await outbox(runtime, "store_event") == []  # no order was made


async def test_a_stale_button_is_answered_and_changes_nothing(staff_bot: StaffBot) -> None:
    fake, runtime = staff_bot.fake, staff_bot.runtime
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A1+1")])
    await staff_bot.sender.drain_once()
    (card,) = await staff_bot.cards(STAFF)

    gone = fake.user_presses(STAFF, STAFF, card.message_id, "rv:999:0", check_button=False)
    beyond = fake.user_presses(STAFF, STAFF, card.message_id, "rv:1:9", check_button=False)

    assert (await fake.wait_for_answer(gone)).text == "This review no longer exists."
    refused = (await fake.wait_for_answer(beyond)).text or ""
    assert refused.startswith("Choose one of the 4 readings")
    assert await outbox(runtime, "reply") == []
    assert fake.edits == []


async def test_a_blocked_buyer_is_on_the_card_and_one_blocked_since_is_not_ordered_for(
    staff_bot: StaffBot,
) -> None:
    fake, runtime = staff_bot.fake, staff_bot.runtime
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1"), ("u2", "A2+1")])
    await block(runtime, "u1")
    await comment_on(runtime, [("u1", "A1+1"), ("u2", "A1+1")], start=10)
    await staff_bot.sender.drain_once()
    _, second = await reviews(runtime)
    cards = await staff_bot.cards(STAFF)
    assert ["the buyer is blocked; " in (card.text or "") for card in cards] == [True, False]
    await block(runtime, "u2")

    query = fake.user_presses(STAFF, STAFF, cards[1].message_id, f"rv:{second.id}:0")

    answer = (await fake.wait_for_answer(query)).text or ""
    assert answer.startswith("The buyer was blocked after this comment came in")
    assert await cart(runtime, "u2") == {"A2": 1}
    assert [r.status for r in await reviews(runtime)] == ["open", "open"]
    assert fake.edits == []

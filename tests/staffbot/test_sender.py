"""The staff outbox reaches every staff chat: review cards with their buttons, alerts; flood
control is waited out and nothing is lost."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.dispatch.alerts import store_dead_alert, token_refused_alert
from bot.processing import CommentProcessor
from bot.reviews import decide
from bot.staffbot import StaffSender
from storage.outbox import ClaimedMessage, write_staff_alert
from storage.types import utcnow
from tests.pipeline import comment_on, start_test_live
from tests.staffbot.support import FAST, GROUP, STAFF, StaffBot, buttons, outbox, reviews

READINGS = ["A1-RED-M x1", "A1-RED-L x1", "A1-BLU-M x1", "A1-BLU-L x1"]


async def test_an_ambiguous_comment_reaches_every_staff_chat_with_its_buttons(
    staff_bot: StaffBot,
) -> None:
    live_id = await start_test_live(staff_bot.runtime)
    await comment_on(staff_bot.runtime, [("u1", "A1+1")])

    assert await staff_bot.sender.drain_once() == 1

    (review,) = await reviews(staff_bot.runtime)
    (mine,) = await staff_bot.cards(STAFF)
    (group,) = await staff_bot.cards(GROUP)
    assert mine.text == group.text
    assert mine.text is not None
    assert f"Review #{review.id} · live {live_id}" in mine.text
    assert "Buyer: Buyer u1 (Facebook)" in mine.text
    assert "Comment: A1+1" in mine.text
    assert "colour" in mine.text  # the parser's reason: A1 needs a colour and a size
    assert buttons(mine) == [
        *((label, f"rv:{review.id}:{n}") for n, label in enumerate(READINGS)),
        ("Reject", f"rv:{review.id}:x"),
    ]
    assert review.messages == [
        {"chat_id": STAFF, "message_id": mine.message_id},
        {"chat_id": GROUP, "message_id": group.message_id},
    ]
    (row,) = await outbox(staff_bot.runtime, "staff_review")
    assert row.status == "sent"
    assert await staff_bot.sender.drain_once() == 0  # nothing sent twice
    assert len(staff_bot.fake.sent) == 2


async def test_an_unknown_keyword_offers_only_reject(staff_bot: StaffBot) -> None:
    await start_test_live(staff_bot.runtime)
    await comment_on(staff_bot.runtime, [("u2", "Z9+1")])

    await staff_bot.sender.drain_once()

    (review,) = await reviews(staff_bot.runtime)
    (card,) = await staff_bot.cards(STAFF)
    assert buttons(card) == [("Reject", f"rv:{review.id}:x")]
    assert card.text is not None and "reject it, or ask the buyer" in card.text


async def test_sold_out_and_low_stock_alerts_reach_the_staff_chats(staff_bot: StaffBot) -> None:
    live_id = await start_test_live(staff_bot.runtime)
    # A12 has 10 in stock, C7 15; staff hear at 5 left (LOW_STOCK_AT's default).
    await comment_on(staff_bot.runtime, [("u1", "A12+10"), ("u2", "C7+11")])

    assert await staff_bot.sender.drain_once() == 2

    for chat in (STAFF, GROUP):
        texts = [m.text for m in staff_bot.fake.sent if m.chat_id == chat]
        assert texts == [
            f"⚠️ A12 is sold out (live {live_id}).",
            f"⚠️ C7: only 4 left (live {live_id}).",
        ]
    assert [row.status for row in await outbox(staff_bot.runtime, "staff_alert")] == [
        "sent",
        "sent",
    ]


DISPATCHER_ALERTS = {
    "token_invalid": (
        token_refused_alert(
            "facebook", "370873143344730", "page-token-secret", "Invalid OAuth token", utcnow()
        ),
        "Meta refused the access token of Facebook Page 370873143344730",
    ),
    "store_event_dead": (
        store_dead_alert(
            ClaimedMessage(
                41,
                "store_event",
                "store:9",
                "order:9",
                {"event": "order.reserved", "order_id": 9},
                30,
                utcnow(),
            ),
            "HTTP 500",
        ),
        "The central store has refused order.reserved of order 9 for over a day",
    ),
}


@pytest.mark.parametrize("name", sorted(DISPATCHER_ALERTS))
async def test_the_dispatchers_alerts_reach_the_staff(staff_bot: StaffBot, name: str) -> None:
    alert, expected = DISPATCHER_ALERTS[name]
    async with staff_bot.runtime.sessions.begin() as session:
        await write_staff_alert(session, alert.key, alert.payload)

    await staff_bot.sender.drain_once()

    for chat in (STAFF, GROUP):
        sent = await staff_bot.fake.wait_for_sent(chat)
        assert sent.text is not None and expected in sent.text
        assert "page-token-secret" not in sent.text


@pytest.mark.parametrize("ptb_timedelta", ["true", None])
async def test_flood_control_is_waited_out_and_nothing_is_lost(
    staff_bot: StaffBot, ptb_timedelta: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if ptb_timedelta:  # PTB 22 gives retry_after as a timedelta; else an int (deprecated)
        monkeypatch.setenv("PTB_TIMEDELTA", ptb_timedelta)
    await start_test_live(staff_bot.runtime)
    await comment_on(staff_bot.runtime, [("u1", "A1+1")])
    staff_bot.fake.fail_next("sendMessage", error_code=429, retry_after=1)

    await staff_bot.sender.drain_once()

    sends = [c for c in staff_bot.fake.calls if c.method == "sendMessage"]
    refused, again, to_group = sends
    assert refused.params["chat_id"] == again.params["chat_id"] == str(STAFF)
    assert again.at - refused.at >= 0.95  # retry_after=1 was honoured, not hurried
    assert to_group.params["chat_id"] == str(GROUP)
    assert len(await staff_bot.cards(STAFF)) == len(await staff_bot.cards(GROUP)) == 1
    (row,) = await outbox(staff_bot.runtime, "staff_review")
    assert row.status == "sent"


async def test_a_flood_wait_longer_than_the_lease_keeps_the_row_from_other_senders(
    staff_bot: StaffBot,
) -> None:
    await start_test_live(staff_bot.runtime)
    await comment_on(staff_bot.runtime, [("u1", "A1+1")])
    staff_bot.fake.fail_next("sendMessage", error_code=429, retry_after=2)
    # Two processes' senders; Telegram asks for a wait of 2 s, four times the lease.
    policy = replace(FAST, lease=timedelta(seconds=0.5))
    chats = staff_bot.runtime.settings.telegram_staff_chats
    first, other = (
        StaffSender(staff_bot.runtime.sessions, staff_bot.application.bot, chats, policy)
        for _ in range(2)
    )
    waiting = asyncio.create_task(first.drain_once())
    while not any(call.method == "sendMessage" for call in staff_bot.fake.calls):
        await asyncio.sleep(0.01)  # the first has claimed the row and met flood control
    taken_by_other = 0
    while not waiting.done():
        taken_by_other += await other.drain_once()
        await asyncio.sleep(0.05)
    assert await waiting == 1
    assert taken_by_other == 0
    assert len(await staff_bot.cards(STAFF)) == len(await staff_bot.cards(GROUP)) == 1
    (row,) = await outbox(staff_bot.runtime, "staff_review")
    assert row.status == "sent" and row.attempts == 1


async def test_a_network_failure_is_tried_again(staff_bot: StaffBot) -> None:
    await start_test_live(staff_bot.runtime)
    await comment_on(staff_bot.runtime, [("u1", "A12+10")])
    staff_bot.fake.fail_next("sendMessage", error_code=502)

    await staff_bot.sender.drain_once()

    assert len([m for m in staff_bot.fake.sent if m.chat_id == STAFF]) == 1
    assert len([m for m in staff_bot.fake.sent if m.chat_id == GROUP]) == 1


async def test_a_chat_unreachable_for_a_while_gets_it_later_and_no_chat_twice(
    staff_bot: StaffBot,
) -> None:
    await start_test_live(staff_bot.runtime)
    await comment_on(staff_bot.runtime, [("u1", "A12+10")])
    # Every try of this round at Mei's chat fails (FAST tries 3 times); the group's goes through.
    staff_bot.fake.fail_next("sendMessage", error_code=502, count=3)

    await staff_bot.sender.drain_once()
    (row,) = await outbox(staff_bot.runtime, "staff_alert")
    assert row.status == "pending"
    assert row.last_error is not None and f"chat {STAFF}" in row.last_error
    assert row.payload["sent_to"] == [GROUP]

    await asyncio.sleep(0.3)  # the row's backoff (FAST: at most 0.2s after one failure)
    assert await staff_bot.sender.drain_once() == 1

    assert sorted(m.chat_id for m in staff_bot.fake.sent) == [GROUP, STAFF]
    (row,) = await outbox(staff_bot.runtime, "staff_alert")
    assert row.status == "sent"


async def test_a_chat_that_refuses_for_good_does_not_hold_the_others(
    staff_bot: StaffBot,
) -> None:
    await start_test_live(staff_bot.runtime)
    await comment_on(staff_bot.runtime, [("u1", "A12+10")])
    staff_bot.fake.fail_next(
        "sendMessage", error_code=403, description="Forbidden: bot was kicked from the group chat"
    )

    await staff_bot.sender.drain_once()

    assert [m.chat_id for m in staff_bot.fake.sent] == [GROUP]
    (row,) = await outbox(staff_bot.runtime, "staff_alert")
    assert row.status == "sent"


async def test_a_review_decided_before_it_is_sent_is_not_shown(staff_bot: StaffBot) -> None:
    runtime = staff_bot.runtime
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A1+1")])
    (review,) = await reviews(runtime)
    processor = CommentProcessor(runtime.settings, runtime.stock, runtime.checkout_secret)
    async with runtime.sessions.begin() as session:
        await decide(session, processor, review.id, 0, "API", now=utcnow())

    await staff_bot.sender.drain_once()

    assert await staff_bot.cards(STAFF) == []
    (row,) = await outbox(runtime, "staff_review")
    assert row.status == "sent"


async def test_no_staff_chats_leaves_the_rows_waiting(staff_bot: StaffBot) -> None:
    await start_test_live(staff_bot.runtime)
    await comment_on(staff_bot.runtime, [("u1", "A1+1")])
    sender = StaffSender(staff_bot.runtime.sessions, staff_bot.application.bot, ())

    assert await sender.drain_once() == 0
    (row,) = await outbox(staff_bot.runtime, "staff_review")
    assert row.status == "pending"

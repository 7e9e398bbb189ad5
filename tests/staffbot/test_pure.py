"""The staff bot's pure parts: button data, retry_after in both PTB spellings, text fitting."""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace
from datetime import timedelta

import pytest
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.staffbot.callback_data import ReviewButton, read_review_button, review_button_data
from bot.staffbot.cards import ReviewCard, card_keyboard, card_text, decided_text
from bot.staffbot.log_privacy import REDACTED, TokenRedactor
from bot.staffbot.replying import listing
from bot.staffbot.telegram_calls import is_transient, retry_after_seconds

CARD = ReviewCard(
    review_id=12,
    live_id=3,
    live_title="Friday",
    platform="facebook",
    buyer="Mei <3",
    comment="A1 +1 please",
    reason="A1 needs a size",
    options=("A1-RED-M x1", "A1-RED-L x1", "A1-BLU-M x1"),
)


def test_button_data_goes_there_and_back_within_64_bytes() -> None:
    biggest = 9_223_372_036_854_775_807
    for review_id, choice in ((12, 0), (12, "reject"), (biggest, 999), (biggest, "reject")):
        data = review_button_data(review_id, choice)
        assert len(data.encode()) <= 64
        assert read_review_button(data) == ReviewButton(review_id, choice)
    assert review_button_data(12, "reject") == "rv:12:x"
    for foreign in (None, "", "ok:42", "rv:12:", "rv:x:1", "rv:12:reject", "rv:12:1:2"):
        assert read_review_button(foreign) is None
    with pytest.raises(ValueError, match="no review button"):
        review_button_data(12, "maybe")


def test_retry_after_is_seconds_whichever_way_ptb_spells_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # set first: PTB's constructor reads it too
    error = RetryAfter(7)
    assert error.retry_after == timedelta(seconds=7)
    assert retry_after_seconds(error) == 7.0
    monkeypatch.delenv("PTB_TIMEDELTA")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reading it ourselves warns nothing
        assert retry_after_seconds(error) == 7.0


def test_refusals_are_not_tried_again_but_the_network_is() -> None:
    assert is_transient(NetworkError("Bad Gateway"))
    assert is_transient(TimedOut())
    assert not is_transient(BadRequest("Message is too long"))  # a NetworkError subclass


def test_a_card_shows_the_comment_the_buyer_and_a_button_per_reading() -> None:
    assert card_text(CARD).splitlines() == [
        "Review #12 · live 3 (Friday)",
        "Buyer: Mei <3 (Facebook)",
        "Comment: A1 +1 please",
        "Why: A1 needs a size",
        "Choose what the buyer meant, or reject.",
    ]
    rows = card_keyboard(CARD).inline_keyboard
    assert [[(b.text, b.callback_data) for b in row] for row in rows] == [
        [("A1-RED-M x1", "rv:12:0"), ("A1-RED-L x1", "rv:12:1")],
        [("A1-BLU-M x1", "rv:12:2")],
        [("Reject", "rv:12:x")],
    ]


def test_a_decided_card_leads_with_the_decision() -> None:
    ordered = decided_text(_decided("A1-RED-L x1", "Mei"))
    rejected = decided_text(_decided("reject", "Ken"))

    assert ordered.splitlines()[0] == "Ordered A1-RED-L x1 · decided by Mei"
    assert rejected.splitlines()[0] == "Rejected by Ken"
    assert "Choose what the buyer meant" not in ordered
    assert "Comment: A1 +1 please" in ordered


def test_a_long_comment_is_clipped_to_fit() -> None:
    long = _with(comment="+1 " * 2000)
    assert len(card_text(long)) < 1000


def test_listing_keeps_whole_lines_and_says_how_many_were_left_out() -> None:
    lines = [f"line {n:03}" for n in range(100)]
    text = listing("Head:", lines, most=100)

    assert len(text) <= 100
    kept = text.splitlines()
    assert kept[0] == "Head:" and kept[1] == "line 000"
    assert kept[-1] == f"… and {100 - (len(kept) - 2)} more"
    assert listing("Head:", ["a", "b"], most=100) == "Head:\na\nb"


def test_the_token_is_taken_out_of_log_lines() -> None:
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, "POST %s", ("https://api/bot123:SECRET/getMe",), None
    )
    assert TokenRedactor("123:SECRET").filter(record)
    assert record.getMessage() == f"POST https://api/bot{REDACTED}/getMe"


def _decided(decision: str, by: str) -> ReviewCard:
    return _with(decision=decision, decided_by=by)


def _with(**changes: object) -> ReviewCard:
    return replace(CARD, **changes)  # type: ignore[arg-type]

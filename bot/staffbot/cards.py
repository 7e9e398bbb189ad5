"""What a review looks like in a staff chat: the card with its buttons, and the card once
decided (no buttons, the decision and who made it). Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.reviews import REJECT
from bot.staffbot.callback_data import review_button_data
from bot.staffbot.replying import clip

_PLATFORMS = {"facebook": "Facebook", "instagram": "Instagram"}
_COMMENT_SHOWN = 500  # characters; a message holds 4096 and the card has other lines
_REASON_SHOWN = 300
BUTTONS_PER_ROW = 2


@dataclass(frozen=True, slots=True)
class ReviewCard:
    review_id: int
    live_id: int | None
    live_title: str | None
    platform: str
    buyer: str
    comment: str
    reason: str
    options: tuple[str, ...]  # each candidate reading, e.g. "A1-RED-M x1"
    decision: str | None = None  # the decided label ("reject" or a reading); None while open
    decided_by: str | None = None

    @property
    def is_open(self) -> bool:
        return self.decision is None


def card_text(card: ReviewCard) -> str:
    return "\n".join(
        [
            f"Review #{card.review_id} · {_live(card)}",
            f"Buyer: {card.buyer} ({_PLATFORMS.get(card.platform, card.platform)})",
            f"Comment: {clip(card.comment, _COMMENT_SHOWN)}",
            f"Why: {clip(card.reason, _REASON_SHOWN)}",
            "Choose what the buyer meant, or reject."
            if card.options
            else "No likely reading: reject it, or ask the buyer.",
        ]
    )


def card_keyboard(card: ReviewCard) -> InlineKeyboardMarkup:
    """One button per reading (two to a row), then Reject on its own row."""
    readings = [
        InlineKeyboardButton(label, callback_data=review_button_data(card.review_id, index))
        for index, label in enumerate(card.options)
    ]
    rows = [readings[i : i + BUTTONS_PER_ROW] for i in range(0, len(readings), BUTTONS_PER_ROW)]
    reject = InlineKeyboardButton(
        "Reject", callback_data=review_button_data(card.review_id, REJECT)
    )
    return InlineKeyboardMarkup([*rows, [reject]])


def decision_line(decision: str, decided_by: str) -> str:
    if decision == REJECT:
        return f"Rejected by {decided_by}"
    return f"Ordered {decision} · decided by {decided_by}"


def decided_text(card: ReviewCard) -> str:
    """The card as it stays once decided: the decision first, then what was decided on."""
    assert card.decision is not None, "only a decided review has a decided card"
    lines = card_text(card).splitlines()[:-1]  # the call to choose is over
    return "\n".join([decision_line(card.decision, card.decided_by or "staff"), *lines])


def _live(card: ReviewCard) -> str:
    if card.live_id is None:
        return "no live"
    return f"live {card.live_id}" + (f" ({card.live_title})" if card.live_title else "")

"""The data a review button carries: `rv:{review_id}:{choice}` (a reading's index, or `x`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.reviews import REJECT

PATTERN = r"^rv:\d{1,19}:(?:\d{1,3}|x)$"  # what the press handler accepts
_READ = re.compile(PATTERN)
_REJECT_MARK = "x"
MAX_BYTES = 64  # Telegram refuses longer callback_data


@dataclass(frozen=True, slots=True)
class ReviewButton:
    review_id: int
    choice: int | str  # a candidate index, or bot.reviews.REJECT


def review_button_data(review_id: int, choice: int | str) -> str:
    mark = _REJECT_MARK if choice == REJECT else str(choice)
    data = f"rv:{review_id}:{mark}"
    if not _READ.fullmatch(data) or len(data.encode()) > MAX_BYTES:
        raise ValueError(f"no review button for {review_id!r}, {choice!r}")
    return data


def read_review_button(data: str | None) -> ReviewButton | None:
    """The button's review and choice; None for data no button of ours carries."""
    if data is None or not _READ.fullmatch(data):
        return None
    _, review_id, mark = data.split(":")
    return ReviewButton(int(review_id), REJECT if mark == _REJECT_MARK else int(mark))

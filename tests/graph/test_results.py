"""Reading success answers: comments, paging, live videos (the shapes of platforms.md §2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.graph.results import (
    UnexpectedResponse,
    next_cursor,
    read_comment,
    read_comments_page,
    read_live_video,
    read_sent_message,
)
from bot.graph.usage import UNKNOWN_USAGE


def test_a_comment_with_author_time_and_parent() -> None:
    comment = read_comment(
        {
            "id": "690891113073877_759878495960329",
            "message": "A12 x2",
            "from": {"id": "6780462125377510", "name": "Jane Buyer"},
            "created_time": "2023-12-01T06:52:51+0000",
            "parent": {"id": "690891113073877_759878495960000"},
        }
    )
    assert comment is not None
    assert comment.from_id == "6780462125377510"
    assert comment.from_name == "Jane Buyer"
    assert comment.created_time == datetime(2023, 12, 1, 6, 52, 51, tzinfo=UTC)
    assert comment.parent_id == "690891113073877_759878495960000"


def test_a_comment_without_author_or_message() -> None:
    comment = read_comment({"id": "1_2", "created_time": "2023-12-01T14:52:51+0800"})
    assert comment is not None
    assert (comment.from_id, comment.from_name, comment.message, comment.parent_id) == (
        None,
        None,
        "",
        None,
    )
    assert comment.created_time.utcoffset() == timedelta(hours=8)
    assert comment.created_time == datetime(2023, 12, 1, 6, 52, 51, tzinfo=UTC)


def test_a_time_without_offset_is_utc() -> None:
    comment = read_comment({"id": "1_2", "created_time": "2023-12-01T06:52:51"})
    assert comment is not None
    assert comment.created_time.tzinfo is not None


@pytest.mark.parametrize(
    "item",
    [
        {"created_time": "2023-12-01T06:52:51+0000"},
        {"id": "1_2"},
        {"id": "1_2", "created_time": "x"},
    ],
)
def test_unreadable_comments_are_skipped_not_fatal(item: dict[str, object]) -> None:
    page = read_comments_page(
        {"data": [item, {"id": "1_3", "created_time": "2023-12-01T06:52:51+0000"}, "junk"]},
        UNKNOWN_USAGE,
    )
    assert [comment.id for comment in page.comments] == ["1_3"]


def test_the_last_page_has_cursors_but_no_next() -> None:
    assert next_cursor({"data": [], "paging": {"cursors": {"before": "b", "after": "a"}}}) is None
    assert next_cursor({"data": []}) is None
    with_next: dict[str, object] = {
        "paging": {"cursors": {"after": "a"}, "next": "https://graph/..."}
    }
    assert next_cursor(with_next) == "a"


def test_live_video_status_is_upper_case_and_video_id_optional() -> None:
    live = read_live_video({"id": "1", "status": "live_stopped"}, UNKNOWN_USAGE)
    assert (live.status, live.video_id) == ("LIVE_STOPPED", None)
    live = read_live_video({"id": "1", "status": "LIVE", "video": {"id": 42}}, UNKNOWN_USAGE)
    assert live.video_id == "42"


@pytest.mark.parametrize(
    "body",
    [{}, {"recipient_id": "1"}, {"message_id": "m_1"}, {"recipient_id": "", "message_id": "m"}],
)
def test_a_sent_message_needs_both_ids(body: dict[str, object]) -> None:
    with pytest.raises(UnexpectedResponse):
        read_sent_message(body, UNKNOWN_USAGE)


def test_a_comments_page_needs_data() -> None:
    with pytest.raises(UnexpectedResponse):
        read_comments_page({"paging": {}}, UNKNOWN_USAGE)

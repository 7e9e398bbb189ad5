"""Every delivery shape of platforms.md read into events (pure)."""

from datetime import UTC, datetime

import pytest

from bot.fakes.meta_webhooks import (
    envelope,
    facebook_comment,
    instagram_comment,
    live_status,
)
from webhooks.envelope import NotAnEnvelope, check_envelope, read_delivery

PAGE = "370873143344730"
VIDEO = "690891113073877"


def fb(
    comment: str,
    text: str | None = "A12 x2",
    *,
    author_id: str = "678",
    author_name: str = "Jane Buyer",
    **extra: object,
) -> dict[str, object]:
    return facebook_comment(
        page_id=PAGE,
        video_id=VIDEO,
        comment=comment,
        text=text,
        author_id=author_id,
        author_name=author_name,
        **extra,  # type: ignore[arg-type]
    )


def test_the_documented_facebook_comment() -> None:
    payload = {
        "object": "page",
        "entry": [
            {
                "id": PAGE,
                "time": 1701413579,
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "from": {"id": "6780462125377510", "name": "Jane Buyer"},
                            "post": {
                                "status_type": "added_video",
                                "is_published": True,
                                "id": f"{PAGE}_{VIDEO}",
                            },
                            "message": "A12 x2",
                            "post_id": f"{PAGE}_{VIDEO}",
                            "comment_id": f"{VIDEO}_759878495960329",
                            "created_time": 1701413571,
                            "item": "comment",
                            "parent_id": f"{PAGE}_{VIDEO}",
                            "verb": "add",
                        },
                    }
                ],
            }
        ],
    }
    delivery = read_delivery(check_envelope(payload))
    (event,) = delivery.comments
    assert event.key == ("facebook", f"{VIDEO}_759878495960329", "add")
    assert (event.page_id, event.post_id, event.parent_id) == (PAGE, f"{PAGE}_{VIDEO}", None)
    assert (event.author_id, event.author_name, event.text) == (
        "6780462125377510",
        "Jane Buyer",
        "A12 x2",
    )
    assert event.created_time == datetime.fromtimestamp(1701413571, UTC)


def test_old_sender_fields_and_replies() -> None:
    delivery = read_delivery(
        envelope("page", [(PAGE, [fb("1", legacy_sender=True), fb("2", reply_to=f"{VIDEO}_1")])])
    )
    legacy, reply = delivery.comments
    assert (legacy.author_id, legacy.author_name) == ("678", "Jane Buyer")
    assert reply.parent_id == f"{VIDEO}_1"


@pytest.mark.parametrize("verb", ["add", "edited", "remove", "hide", "unhide"])
def test_every_comment_verb(verb: str) -> None:
    (event,) = read_delivery(envelope("page", [(PAGE, [fb("1", verb=verb)])])).comments
    assert event.verb == verb
    assert (event.text is None) == (verb == "remove")


def test_the_pages_own_comments_are_skipped() -> None:
    own = facebook_comment(
        page_id=PAGE,
        video_id=VIDEO,
        comment="9",
        text="Thanks!",
        author_id=PAGE,
        author_name="Shop",
    )
    delivery = read_delivery(envelope("page", [(PAGE, [own, fb("1")])]))
    assert [e.comment_id for e in delivery.comments] == [f"{VIDEO}_1"]
    assert delivery.ignored == ("the Page's own comment",)


@pytest.mark.parametrize("status", ["live", "live_stopped", "vod", "VOD"])
def test_live_video_status_changes_in_any_case(status: str) -> None:
    (change,) = read_delivery(envelope("page", [(PAGE, [live_status("1015", status)])])).statuses
    assert (change.live_video_id, change.status) == ("1015", status.upper())


@pytest.mark.parametrize("field", ["comments", "live_comments"])
@pytest.mark.parametrize("id_field", ["id", "comment_id"])
@pytest.mark.parametrize("wrapped", [True, False])
def test_instagram_comments_in_every_shape(field: str, id_field: str, wrapped: bool) -> None:
    change = instagram_comment(
        media_id="765",
        comment_id="178657",
        text="A12 +1",
        author_id="1234",
        username="buyer1",
        live=field == "live_comments",
        id_field=id_field,
    )
    delivery = read_delivery(
        envelope("instagram", [("17841405726653026", [change])], wrapped=wrapped)
    )
    (event,) = delivery.comments
    assert (event.platform, event.field, event.comment_id, event.media_id) == (
        "instagram",
        field,
        "178657",
        "765",
    )
    assert (event.author_id, event.author_name, event.text) == ("1234", "buyer1", "A12 +1")


def test_several_entries_and_changes_keep_their_order() -> None:
    delivery = read_delivery(
        envelope(
            "page",
            [
                (PAGE, [fb("1"), fb("2"), live_status("1015", "live_stopped")]),
                (
                    "999",
                    [
                        facebook_comment(
                            page_id="999",
                            video_id="5",
                            comment="3",
                            text="+1",
                            author_id="7",
                            author_name="Bo",
                        )
                    ],
                ),
            ],
        )
    )
    assert [e.comment_id for e in delivery.comments] == [f"{VIDEO}_1", f"{VIDEO}_2", "5_3"]
    assert len(delivery.statuses) == 1


def test_unknown_objects_fields_and_items_are_ignored_not_errors() -> None:
    delivery = read_delivery({"object": "whatsapp_business_account", "entry": []})
    assert delivery.comments == () and delivery.ignored
    odd = read_delivery(
        {
            "object": "page",
            "entry": [
                {
                    "id": PAGE,
                    "time": 1,
                    "changes": [
                        {"field": "feed", "value": {"item": "reaction", "verb": "add"}},
                        {"field": "mention", "value": {}},
                        {"field": "feed", "value": "not an object"},
                        {
                            "field": "feed",
                            "value": {"item": "comment", "verb": "explode", "comment_id": "1"},
                        },
                        "not a change",
                    ],
                },
                {"id": PAGE, "time": 1, "messaging": [{"message": {"text": "hi"}}]},
                "not an entry",
            ],
        }
    )
    assert odd.comments == () and len(odd.ignored) == 6


def test_non_ascii_text_is_kept_exactly() -> None:
    (event,) = read_delivery(envelope("page", [(PAGE, [fb("1", "蘋果 兩盒 ❤️ Ａ２＋２")])])).comments
    assert event.text == "蘋果 兩盒 ❤️ Ａ２＋２"


def test_nul_characters_are_dropped_from_text_and_names() -> None:
    (event,) = read_delivery(
        envelope("page", [(PAGE, [fb("1", "A1+2\x00", author_name="Ja\x00ne")])])
    ).comments
    assert (event.text, event.author_name) == ("A1+2", "Jane")


def test_names_are_cut_to_what_the_database_keeps() -> None:
    (event,) = read_delivery(envelope("page", [(PAGE, [fb("1", author_name="名" * 500)])])).comments
    assert event.author_name == "名" * 200


@pytest.mark.parametrize("comment_id", ["9" * 129, "12\x0034"])
def test_an_id_the_database_cannot_keep_is_ignored_not_stored(comment_id: str) -> None:
    unreadable = fb("1")
    unreadable["value"] = {**unreadable["value"], "comment_id": comment_id}
    delivery = read_delivery(envelope("page", [(PAGE, [unreadable, fb("2")])]))
    assert [event.comment_id for event in delivery.comments] == [f"{VIDEO}_2"]
    assert delivery.ignored == ("feed comment without a readable comment_id",)


def test_an_author_id_too_long_to_keep_leaves_the_comment_without_one() -> None:
    (event,) = read_delivery(envelope("page", [(PAGE, [fb("1", author_id="7" * 65)])])).comments
    assert event.author_id is None


@pytest.mark.parametrize(
    "body",
    [
        [],
        "x",
        {"entry": []},
        {"object": "page"},
        {"object": "page", "entry": {}},
        {"object": 1, "entry": []},
    ],
)
def test_what_is_not_an_envelope(body: object) -> None:
    with pytest.raises(NotAnEnvelope):
        check_envelope(body)

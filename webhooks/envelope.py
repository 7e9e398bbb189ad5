"""Meta webhook deliveries read into plain events (pure: no I/O).

Every shape of platforms.md sections 1: Facebook `feed` comments (with `from` or the old
`sender_id`/`sender_name`), `live_videos` status changes, Instagram `comments` and
`live_comments` (`id` or `comment_id`, with or without the `changes` wrapper). What is not a
comment or a status change is described in `ignored` and otherwise left alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, NamedTuple

Platform = Literal["facebook", "instagram"]
_OBJECTS: dict[str, Platform] = {"page": "facebook", "instagram": "instagram"}
_COMMENT_FIELDS = {"facebook": ("feed",), "instagram": ("comments", "live_comments")}
_VERBS = ("add", "edited", "remove", "hide", "unhide")
# The longest values the comments table keeps (Meta's own are far shorter): an event with a
# longer id is ignored, a longer name is cut. A value the database refuses would fail its whole
# batch, every time it came back.
LONGEST_ID = 64
LONGEST_OBJECT_ID = 128  # comment, post and parent ids: "{post}_{comment}"
LONGEST_NAME = 200

JsonMap = Mapping[str, object]


class NotAnEnvelope(ValueError):
    """The body is JSON but not `{"object": ..., "entry": [...]}`."""


class CommentEvent(NamedTuple):
    platform: Platform
    field: str
    verb: str
    comment_id: str
    page_id: str
    post_id: str | None = None
    media_id: str | None = None
    parent_id: str | None = None
    author_id: str | None = None
    author_name: str | None = None
    text: str | None = None
    created_time: datetime | None = None
    # When the delivery reached us (its queue's time); None from a poll: the time it is stored.
    received_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes an event the same event when Meta delivers it again."""
        return (self.platform, self.comment_id, self.verb)


@dataclass(frozen=True, slots=True)
class LiveStatusEvent:
    platform: Platform
    page_id: str
    live_video_id: str
    status: str
    # When Meta says the status changed (its entry's `time`); None when not known.
    changed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    comments: tuple[CommentEvent, ...] = ()
    statuses: tuple[LiveStatusEvent, ...] = ()
    ignored: tuple[str, ...] = ()


def check_envelope(data: object) -> JsonMap:
    """The envelope itself, or NotAnEnvelope saying what is missing."""
    if not isinstance(data, Mapping):
        raise NotAnEnvelope("the body is not a JSON object")
    if not isinstance(data.get("object"), str):
        raise NotAnEnvelope('the body has no "object" naming what changed')
    entries = data.get("entry")
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise NotAnEnvelope('the body has no "entry" list')
    return data


def read_delivery(envelope: JsonMap) -> Delivery:
    """Every comment and live status change in one delivery, in the order Meta sent them."""
    kind = str(envelope.get("object"))
    platform = _OBJECTS.get(kind)
    entries = envelope.get("entry")
    if platform is None or not isinstance(entries, list):
        return Delivery(ignored=(f"object {kind!r}",))
    comments: list[CommentEvent] = []
    statuses: list[LiveStatusEvent] = []
    ignored: list[str] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            ignored.append("an entry that is not an object")
            continue
        page_id = readable_id(entry.get("id"))
        for field_name, value in _changes(entry):
            event = _read_change(platform, page_id, field_name, value, entry)
            if isinstance(event, CommentEvent):
                comments.append(event)
            elif isinstance(event, LiveStatusEvent):
                statuses.append(event)
            else:
                ignored.append(event)
    return Delivery(tuple(comments), tuple(statuses), tuple(ignored))


def _changes(entry: JsonMap) -> Iterator[tuple[str, object]]:
    changes = entry.get("changes")
    if isinstance(changes, list):
        for change in changes:
            if isinstance(change, Mapping):
                yield str(change.get("field")), change.get("value")
    elif "field" in entry and "value" in entry:
        # One of Meta's Instagram examples sends the change without the `changes` wrapper.
        yield str(entry.get("field")), entry.get("value")
    elif "messaging" in entry:
        yield "messaging", None


def _read_change(
    platform: Platform, page_id: str | None, field_name: str, value: object, entry: JsonMap
) -> CommentEvent | LiveStatusEvent | str:
    if page_id is None:
        return f"{field_name}: an entry without an id"
    if not isinstance(value, Mapping):
        return f"{field_name}: no value object"
    if platform == "facebook" and field_name == "live_videos":
        return _live_status(page_id, value, _time(entry.get("time")))
    if field_name not in _COMMENT_FIELDS[platform]:
        return f"field {field_name!r}"
    if platform == "facebook":
        return _facebook_comment(page_id, value)
    return _instagram_comment(page_id, field_name, value, entry)


def _live_status(
    page_id: str, value: JsonMap, changed_at: datetime | None
) -> LiveStatusEvent | str:
    video_id = readable_id(value.get("id"), LONGEST_OBJECT_ID)
    status = readable_id(value.get("status"))
    if video_id is None or status is None:
        return "live_videos: no id or status"
    return LiveStatusEvent("facebook", page_id, video_id, status.upper(), changed_at)


def _facebook_comment(page_id: str, value: JsonMap) -> CommentEvent | str:
    if value.get("item") != "comment":
        return f"feed item {value.get('item')!r}"
    comment_id = readable_id(value.get("comment_id"), LONGEST_OBJECT_ID)
    if comment_id is None:
        return "feed comment without a readable comment_id"
    verb = _verb(value.get("verb"))
    if verb is None:
        return f"feed comment verb {value.get('verb')!r}"
    author_id, author_name = _facebook_author(value)
    if author_id == page_id:
        return "the Page's own comment"
    post_id = readable_id(value.get("post_id"), LONGEST_OBJECT_ID)
    parent_id = readable_id(value.get("parent_id"), LONGEST_OBJECT_ID)
    return CommentEvent(
        platform="facebook",
        field="feed",
        verb=verb,
        comment_id=comment_id,
        page_id=page_id,
        post_id=post_id,
        parent_id=None if parent_id == post_id else parent_id,
        author_id=author_id,
        author_name=author_name,
        text=readable_text(value.get("message")),
        created_time=_time(value.get("created_time")),
    )


def _facebook_author(value: JsonMap) -> tuple[str | None, str | None]:
    author = value.get("from")
    if isinstance(author, Mapping):
        return readable_id(author.get("id")), readable_name(author.get("name"))
    # Payloads before v2.11 name the author with sender_id / sender_name.
    return readable_id(value.get("sender_id")), readable_name(value.get("sender_name"))


def _instagram_comment(
    account_id: str, field_name: str, value: JsonMap, entry: JsonMap
) -> CommentEvent | str:
    comment_id = readable_id(value.get("id"), LONGEST_OBJECT_ID) or readable_id(
        value.get("comment_id"), LONGEST_OBJECT_ID
    )
    if comment_id is None:
        return f"{field_name} without a readable comment id"
    verb = _verb(value.get("verb"))
    if verb is None:
        return f"{field_name} verb {value.get('verb')!r}"
    author = value.get("from")
    author_id = readable_id(author.get("id")) if isinstance(author, Mapping) else None
    author_name = readable_name(author.get("username")) if isinstance(author, Mapping) else None
    if author_id == account_id:
        return "the account's own comment"
    media = value.get("media")
    return CommentEvent(
        platform="instagram",
        field=field_name,
        verb=verb,
        comment_id=comment_id,
        page_id=account_id,
        media_id=readable_id(media.get("id")) if isinstance(media, Mapping) else None,
        parent_id=readable_id(value.get("parent_id"), LONGEST_OBJECT_ID),
        author_id=author_id,
        author_name=author_name,
        text=readable_text(value.get("text")),
        created_time=_time(value.get("timestamp")) or _time(entry.get("time")),
    )


def _verb(raw: object) -> str | None:
    verb = "add" if raw is None else str(raw).lower()
    return verb if verb in _VERBS else None


def readable_id(raw: object, longest: int = LONGEST_ID) -> str | None:
    """An id as text; None when missing, too long, or holding a NUL (which PostgreSQL's text
    cannot store)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if isinstance(raw, str) and raw and len(raw) <= longest and "\x00" not in raw:
        return raw
    return None


def readable_name(raw: object) -> str | None:
    text = readable_text(raw)
    return text[:LONGEST_NAME] if text else None


def readable_text(raw: object) -> str | None:
    # A NUL means nothing in a comment, and PostgreSQL's text cannot store one.
    return raw.replace("\x00", "") if isinstance(raw, str) else None


def _time(raw: object) -> datetime | None:
    """Seconds since the epoch (feed, Instagram) or an ISO 8601 string; anything else is None."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        seconds = raw / 1000 if raw > 10**11 else raw  # milliseconds slip in from Messenger
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.replace("+0000", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None

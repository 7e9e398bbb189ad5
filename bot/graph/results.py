"""What Graph API calls answer, as typed values, and the pure functions reading them off the wire.

Readers raise `UnexpectedResponse` when a success body lacks what the call promises; the client
turns that into a GraphError so callers handle one kind of failure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from bot.graph.usage import Usage
from bot.graph.wire import JsonObject, as_object, nested_text, text

Platform = Literal["facebook", "instagram"]

log = logging.getLogger(__name__)


class UnexpectedResponse(ValueError):
    """A success answer that does not have the shape platforms.md describes."""


@dataclass(frozen=True, slots=True)
class SentMessage:
    recipient_id: str
    message_id: str
    usage: Usage


@dataclass(frozen=True, slots=True)
class PublicReply:
    id: str
    usage: Usage


@dataclass(frozen=True, slots=True)
class GraphComment:
    id: str
    message: str
    from_id: str | None  # Meta leaves `from` out when the app may not see the author
    from_name: str | None
    created_time: datetime  # timezone-aware
    parent_id: str | None  # set on a reply to another comment


@dataclass(frozen=True, slots=True)
class CommentsPage:
    comments: tuple[GraphComment, ...]
    next_cursor: str | None  # pass as `after` for the next page; None on the last page
    usage: Usage


@dataclass(frozen=True, slots=True)
class LiveVideo:
    id: str
    video_id: str | None
    status: str  # upper case: LIVE, LIVE_STOPPED, VOD, ...
    usage: Usage


def read_sent_message(body: JsonObject, usage: Usage) -> SentMessage:
    return SentMessage(
        recipient_id=_required(body, "recipient_id"),
        message_id=_required(body, "message_id"),
        usage=usage,
    )


def read_public_reply(body: JsonObject, usage: Usage) -> PublicReply:
    return PublicReply(id=_required(body, "id"), usage=usage)


def read_live_video(body: JsonObject, usage: Usage) -> LiveVideo:
    return LiveVideo(
        id=_required(body, "id"),
        video_id=nested_text(body, "video", "id"),
        status=_required(body, "status").upper(),
        usage=usage,
    )


def read_live_videos(body: JsonObject, usage: Usage) -> tuple[LiveVideo, ...]:
    return tuple(read_live_video(item, usage) for item in _data(body))


def read_comments_page(body: JsonObject, usage: Usage) -> CommentsPage:
    comments = (read_comment(item) for item in _data(body))
    return CommentsPage(
        comments=tuple(comment for comment in comments if comment is not None),
        next_cursor=next_cursor(body),
        usage=usage,
    )


def read_comment(item: JsonObject) -> GraphComment | None:
    """One comment, or None (logged) when it lacks an id or a readable time.

    Skipping one unreadable comment keeps a poller going; raising would stall every later page.
    """
    comment_id = text(item, "id")
    created = _parse_time(text(item, "created_time"))
    if comment_id is None or created is None:
        log.warning("skipping an unreadable comment from the Graph API: %r", item)
        return None
    return GraphComment(
        id=comment_id,
        message=text(item, "message") or "",
        from_id=nested_text(item, "from", "id"),
        from_name=nested_text(item, "from", "name"),
        created_time=created,
        parent_id=nested_text(item, "parent", "id"),
    )


def next_cursor(body: JsonObject) -> str | None:
    """The `after` cursor, only when a next page exists: Meta keeps sending `cursors.after` on
    the last page and marks the end by leaving `paging.next` out."""
    paging = as_object(body.get("paging"))
    if paging is None or not isinstance(paging.get("next"), str):
        return None
    return nested_text(paging, "cursors", "after")


def _data(body: JsonObject) -> list[JsonObject]:
    data = body.get("data")
    if not isinstance(data, list):
        raise UnexpectedResponse("no `data` list in the answer")
    items = [as_object(item) for item in data]
    return [item for item in items if item is not None]


def _required(body: JsonObject, key: str) -> str:
    value = text(body, key)
    if not value:
        raise UnexpectedResponse(f"no `{key}` in the answer")
    return value


def _parse_time(raw: str | None) -> datetime | None:
    """Graph times look like `2023-11-30T12:34:56+0000`; a time without an offset is UTC."""
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)

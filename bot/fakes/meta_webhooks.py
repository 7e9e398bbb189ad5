"""A webhook sender that speaks like Meta: the payload shapes of platforms.md, signed.

Used by the tests, `livecart simulate` and the demo; it signs with the same function the
webhook route verifies with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

import orjson

from webhooks.signature import sign

Change = dict[str, object]
Envelope = dict[str, object]


def facebook_comment(
    *,
    page_id: str,
    video_id: str,
    comment: str,
    text: str | None,
    author_id: str,
    author_name: str,
    verb: str = "add",
    created_time: int | None = None,
    legacy_sender: bool = False,
    reply_to: str | None = None,
) -> Change:
    """A `feed` comment on a Page's live video; `comment` is the part after `{video}_`."""
    post_id = f"{page_id}_{video_id}"
    value: dict[str, object] = {
        "post": {"status_type": "added_video", "is_published": True, "id": post_id},
        "post_id": post_id,
        "comment_id": f"{video_id}_{comment}",
        "created_time": created_time if created_time is not None else int(time.time()),
        "item": "comment",
        "parent_id": reply_to or post_id,
        "verb": verb,
    }
    if text is not None and verb != "remove":
        value["message"] = text
    if legacy_sender:
        value.update(sender_id=author_id, sender_name=author_name)
    else:
        value["from"] = {"id": author_id, "name": author_name}
    return {"field": "feed", "value": value}


def instagram_comment(
    *,
    media_id: str,
    comment_id: str,
    text: str,
    author_id: str,
    username: str,
    live: bool = True,
    id_field: str = "id",
    timestamp: int | None = None,
) -> Change:
    value: dict[str, object] = {
        id_field: comment_id,
        "text": text,
        "from": {"id": author_id, "username": username},
        "media": {"id": media_id, "media_product_type": "FEED"},
    }
    if timestamp is not None:
        value["timestamp"] = timestamp
    return {"field": "live_comments" if live else "comments", "value": value}


def live_status(live_video_id: str, status: str) -> Change:
    return {"field": "live_videos", "value": {"id": live_video_id, "status": status}}


def envelope(
    kind: str, entries: Sequence[tuple[str, Sequence[Change]]], *, wrapped: bool = True
) -> Envelope:
    """`kind` is "page" or "instagram"; `wrapped=False` drops the `changes` wrapper (one change
    per entry), as one of Meta's Instagram examples does."""
    now = int(time.time())
    built: list[dict[str, object]] = []
    for entry_id, changes in entries:
        if wrapped:
            built.append({"id": entry_id, "time": now, "changes": list(changes)})
        else:
            built.extend({"id": entry_id, "time": now, **change} for change in changes)
    return {"object": kind, "entry": built}


def signed_body(payload: Mapping[str, object], app_secret: str) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(payload)
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, app_secret)}


def signed_request(payload: Mapping[str, object], app_secret: str) -> str:
    """Meta's `signed_request` form field: `<sig>.<payload>`, base64url without padding."""
    encoded = _b64url(orjson.dumps(dict(payload)))
    digest = hmac.new(app_secret.encode(), encoded.encode(), hashlib.sha256).digest()
    return f"{_b64url(digest)}.{encoded}"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

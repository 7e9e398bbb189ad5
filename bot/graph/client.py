"""The async Graph API client used on the hot path (platforms.md §2).

One `GraphClient` per process wraps a `ClientSession` its caller owns. Every call sends the
Page token and, when the app secret is known, its `appsecret_proof`; every answer is read into a
frozen value carrying that response's `Usage`, and every failure is a `GraphFailure` that says
what to do next (`is_throttle`, `is_terminal`, `is_retryable`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote

import aiohttp
import orjson

from bot.graph.errors import UNKNOWN_CODE, GraphError, GraphUnavailable, error_from_body
from bot.graph.proof import appsecret_proof
from bot.graph.results import (
    CommentsPage,
    LiveVideo,
    Platform,
    PublicReply,
    SentMessage,
    UnexpectedResponse,
    read_comments_page,
    read_live_video,
    read_live_videos,
    read_public_reply,
    read_sent_message,
)
from bot.graph.usage import Usage, usage_from_headers
from bot.graph.wire import JsonObject, loads_object

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=10.0, sock_connect=3.0)
COMMENT_FIELDS = "id,message,from{id,name},created_time,parent"
LIVE_VIDEO_FIELDS = "id,status,title,video,permalink_url"
_JSON_HEADERS = {"Content-Type": "application/json"}
_PUBLIC_REPLY_EDGE: dict[Platform, str] = {"facebook": "comments", "instagram": "replies"}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Answer:
    body: JsonObject
    usage: Usage
    status: int


class GraphClient:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        base_url: str,
        version: str,
        app_secret: str | None,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._http = http
        self._root = f"{base_url.rstrip('/')}/{normalize_version(version)}"
        self._app_secret = app_secret or None
        self._timeout = timeout

    async def private_reply(
        self, page_id: str, token: str, comment_id: str, text: str
    ) -> SentMessage:
        """Answer a comment in its author's inbox (one per comment; 10900 means already done).

        Instagram uses the same call with the Instagram account id as `page_id`.
        """
        body = {"recipient": {"comment_id": comment_id}, "message": {"text": text}}
        answer = await self._call("POST", (page_id, "messages"), token, json_body=body)
        return _read(read_sent_message, answer)

    async def public_reply(
        self, comment_id: str, token: str, text: str, *, platform: Platform
    ) -> PublicReply:
        edge = _PUBLIC_REPLY_EDGE[platform]
        answer = await self._call("POST", (comment_id, edge), token, form={"message": text})
        return _read(read_public_reply, answer)

    async def live_comments(
        self, live_video_id: str, token: str, *, after: str | None = None, limit: int = 100
    ) -> CommentsPage:
        """One page of a live video's comments, newest first, unfiltered.

        `live_filter=no_filter` matters: Meta's default filter silently drops short comments,
        which is what most orders look like.
        """
        query = {
            "order": "reverse_chronological",
            "live_filter": "no_filter",
            "fields": COMMENT_FIELDS,
            "limit": str(limit),
        }
        if after is not None:
            query["after"] = after
        answer = await self._call("GET", (live_video_id, "comments"), token, query=query)
        return _read(read_comments_page, answer)

    async def live_video(self, live_video_id: str, token: str) -> LiveVideo:
        """The live video's status and the video id its webhooks' `post_id` carries."""
        query = {"fields": "video,status"}
        answer = await self._call("GET", (live_video_id,), token, query=query)
        return _read(read_live_video, answer)

    async def live_videos(
        self, page_id: str, token: str, *, broadcast_status: Sequence[str] = ("LIVE",)
    ) -> tuple[LiveVideo, ...]:
        """The Page's live videos in the given broadcast states (first page only)."""
        query = {
            "broadcast_status": orjson.dumps(list(broadcast_status)).decode(),
            "fields": LIVE_VIDEO_FIELDS,
        }
        answer = await self._call("GET", (page_id, "live_videos"), token, query=query)
        return _read(read_live_videos, answer)

    async def subscribe_app(self, page_id: str, token: str, fields: Sequence[str]) -> bool:
        """Install the app on a Page (or Instagram account) for the given webhook fields."""
        query = {"subscribed_fields": ",".join(fields)}
        answer = await self._call("POST", (page_id, "subscribed_apps"), token, query=query)
        return answer.body.get("success") is True

    async def _call(
        self,
        method: str,
        segments: Sequence[str],
        token: str,
        *,
        query: Mapping[str, str] | None = None,
        json_body: Mapping[str, object] | None = None,
        form: Mapping[str, str] | None = None,
    ) -> _Answer:
        path = "/".join(quote(segment, safe="") for segment in segments)
        params = {**(query or {}), **self._credentials(token)}
        data: bytes | Mapping[str, str] | None = form
        headers = None
        if json_body is not None:
            data, headers = orjson.dumps(dict(json_body)), _JSON_HEADERS
        try:
            async with self._http.request(
                method,
                f"{self._root}/{path}",
                params=params,
                data=data,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                raw = await response.read()
                return _answer(response.status, response.headers, raw)
        except aiohttp.ConnectionTimeoutError:
            # A TimeoutError too, but the request never left: nothing can have been done.
            raise GraphUnavailable(
                f"{method} /{path}: no connection in time", timed_out=True, reached=False
            ) from None
        except TimeoutError:
            raise GraphUnavailable(f"{method} /{path}: no answer in time", timed_out=True) from None
        except aiohttp.ClientConnectorError as error:
            raise GraphUnavailable(
                f"{method} /{path}: {_network_error(error)}", reached=False
            ) from None
        except aiohttp.ClientError as error:
            raise GraphUnavailable(f"{method} /{path}: {_network_error(error)}") from None

    def _credentials(self, token: str) -> dict[str, str]:
        credentials = {"access_token": token}
        if self._app_secret is not None:
            credentials["appsecret_proof"] = appsecret_proof(self._app_secret, token)
        return credentials


def normalize_version(version: str) -> str:
    """`v25.0` from `v25.0` or `25.0`."""
    version = version.strip().strip("/")
    return version if version.startswith("v") else f"v{version}"


def _answer(status: int, headers: Mapping[str, str], raw: bytes) -> _Answer:
    """The success body, or the GraphError the answer describes."""
    usage = usage_from_headers(headers)
    body = loads_object(raw)
    # Meta occasionally wraps an error in a 200; the envelope, not the status, decides.
    if status >= 400 or (body is not None and "error" in body):
        raise error_from_body(status, body, usage=usage, trace_id=headers.get("x-fb-trace-id"))
    if body is None:
        raise GraphError(
            UNKNOWN_CODE, "the answer is not a JSON object", http_status=status, usage=usage
        )
    return _Answer(body, usage, status)


def _read(reader: Callable[[JsonObject, Usage], T], answer: _Answer) -> T:
    try:
        return reader(answer.body, answer.usage)
    except UnexpectedResponse as error:
        raise GraphError(
            UNKNOWN_CODE,
            f"unexpected answer: {error}",
            http_status=answer.status,
            usage=answer.usage,
        ) from None


def _network_error(error: aiohttp.ClientError) -> str:
    # A ClientResponseError's text holds the full URL, and with it the access token.
    if isinstance(error, aiohttp.ClientResponseError):
        return type(error).__name__
    return f"{type(error).__name__}: {error}"

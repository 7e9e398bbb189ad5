"""A local Graph API that answers in Meta's shapes (platforms.md §2), for the demo and the tests.

In the manner of aiohttp's `examples/fake_server.py`: a real aiohttp application on a real port
that the real `GraphClient` talks to (point `META_GRAPH_URL` at `fake.url`).

    async with FakeGraph.running(app_secret="s3cret") as fake:
        fake.add_page("1001", "page-token")
        fake.add_live_video("2002", page_id="1001", video_id="3003")
        fake.add_comment("2002", "3003_1", "A1+2", from_id="77", from_name="Jane")
        ...  # run the code under test against fake.url, then look at fake.messages

Every request is checked in Meta's order: access token present, `appsecret_proof` (when the fake
has an app secret), token known and not revoked, the page's throttle, scripted failures, then the
route itself. Every answer carries the usage headers the test set, and every request is recorded.

Where platforms.md leaves Meta's exact answer open, the fake picks one and says so: the subcodes of
the "outside the window" errors (2018278 after 7 days, 2534022 for an Instagram live comment once
the broadcast is off), 200 for a token used on another Page's edge, 100/33 for objects that do not
exist or belong to another Page.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import itertools
import math
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import orjson
from aiohttp import web

from bot.graph.proof import proof_matches
from bot.graph.wire import JsonObject, as_object, loads_object, text

Platform = Literal["facebook", "instagram"]
Params = dict[str, object]

VERSION = r"{version:v\d+\.\d+}"
PRIVATE_REPLY_WINDOW = timedelta(days=7)
MAX_MESSAGE_LENGTH = 2000
DEFAULT_LIMIT = 25
DEFAULT_LOW_QUALITY_SHARE = 0.3
NOT_FOUND_SUBCODE = 33
WINDOW_SUBCODE = 2018278
INSTAGRAM_WINDOW_SUBCODE = 2534022
_DEFAULT_COMMENT_FIELDS = ("id", "message", "created_time", "from")
_DEFAULT_LIVE_FIELDS = ("id", "status")
_THROTTLE_CODE: dict[Platform, int] = {"facebook": 80001, "instagram": 80002}

# Meta's wording and `type` for the codes of platforms.md's table, used when a test scripts a code.
_KNOWN_ERRORS: dict[int, tuple[str, str]] = {
    1: ("An unknown error occurred", "OAuthException"),
    2: ("An unexpected error has occurred. Please retry your request later.", "OAuthException"),
    4: ("(#4) Application request limit reached", "OAuthException"),
    10: ("(#10) Application does not have permission for this action", "OAuthException"),
    17: ("(#17) User request limit reached", "OAuthException"),
    32: ("(#32) Page request limit reached", "OAuthException"),
    100: ("(#100) Invalid parameter", "GraphMethodException"),
    102: ("Session key invalid or no longer valid", "OAuthException"),
    190: ("Invalid OAuth access token - Cannot parse access token", "OAuthException"),
    200: ("(#200) Permissions error", "OAuthException"),
    551: ("(#551) This person isn't available right now.", "OAuthException"),
    613: ("(#613) Calls to this api have exceeded the rate limit.", "OAuthException"),
    10900: ("(#10900) Activity already replied to", "OAuthException"),
    10903: ("(#10903) This user cant reply to this activity", "OAuthException"),
    80001: (
        "(#80001) There have been too many calls to this Page account. Wait a bit and try again.",
        "OAuthException",
    ),
    80002: (
        "(#80002) There have been too many calls to this Instagram account. "
        "Wait a bit and try again.",
        "OAuthException",
    ),
    80006: (
        "(#80006) There have been too many messenger api calls to this Page account. "
        "Wait a bit and try again.",
        "OAuthException",
    ),
}
_WINDOW_MESSAGE = "(#10) This message is sent outside of allowed window."


# --- What the fake records ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    time: float  # the fake's clock (monotonic) when the request arrived
    page_id: str | None  # the Page whose token was used, when the token was known
    status: int


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    page_id: str
    comment_id: str
    text: str
    recipient_id: str
    message_id: str
    received_at: float  # monotonic, when the request arrived


@dataclass(frozen=True, slots=True)
class RecordedPublicReply:
    page_id: str
    comment_id: str
    text: str
    reply_id: str
    platform: Platform
    received_at: float


# --- The fake's state -----------------------------------------------------------------------


@dataclass(slots=True)
class _Page:
    page_id: str
    token: str
    platform: Platform
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class _Comment:
    id: str
    live_video_id: str
    message: str
    from_id: str
    from_name: str
    created_time: datetime
    parent_id: str | None


@dataclass(slots=True)
class _LiveVideo:
    id: str
    page_id: str
    video_id: str
    status: str
    title: str
    comments: list[_Comment] = field(default_factory=list)


@dataclass(slots=True)
class _Throttle:
    until: float
    seconds: float
    code: int
    regain_minutes: float | None


@dataclass(slots=True)
class _Usage:
    percent: float | None = None
    regain_minutes: float | None = None


class GraphFault(Exception):
    """An error the fake answers with, in Meta's envelope."""

    def __init__(
        self,
        code: int,
        message: str | None = None,
        *,
        error_type: str | None = None,
        subcode: int | None = None,
        http_status: int = 400,
        is_transient: bool | None = None,
        raw_body: str | None = None,
    ) -> None:
        known_message, known_type = _KNOWN_ERRORS.get(code, ("An error occurred", "OAuthException"))
        self.code = code
        self.message = message or known_message
        self.error_type = error_type or known_type
        self.subcode = subcode
        self.http_status = http_status
        self.is_transient = is_transient
        self.raw_body = raw_body
        super().__init__(self.message)


@dataclass(slots=True)
class _Scripted:
    remaining: int
    fault: GraphFault
    page_id: str | None
    regain_minutes: float | None


@dataclass(slots=True)
class _Context:
    """What one request's checks learned, for its usage headers and its record."""

    arrived: float
    page: _Page | None = None
    blocked_regain: float | None = None  # minutes; set when the answer is a throttle


@dataclass(frozen=True, slots=True)
class _Call:
    """An authenticated request, as a route sees it."""

    request: web.Request
    page: _Page
    params: Params
    arrived: float

    @property
    def node(self) -> str:
        return self.request.match_info["node"]


Route = Callable[[_Call], Awaitable[web.Response]]


class FakeGraph:
    """The fake's state (pages, lives, comments, scripted trouble, records) and its routes."""

    def __init__(
        self,
        *,
        app_secret: str | None = None,
        strict: bool = False,
        low_quality_share: float = DEFAULT_LOW_QUALITY_SHARE,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app_secret = app_secret
        self.strict = strict  # private replies to unknown comment ids fail instead of succeeding
        self.low_quality_share = low_quality_share
        self.messages: list[RecordedMessage] = []
        self.public_replies: list[RecordedPublicReply] = []
        self.requests: list[RecordedRequest] = []
        self.subscriptions: dict[str, tuple[str, ...]] = {}
        self._clock = clock
        self._rng = random.Random(seed)  # noqa: S311 - latency jitter and trace ids, not secrets
        self._ids = itertools.count(1)
        self._pages: dict[str, _Page] = {}
        self._tokens: dict[str, _Page] = {}
        self._lives: dict[str, _LiveVideo] = {}
        self._comments: dict[str, _Comment] = {}
        self._replied: set[str] = set()
        self._latency = (0.0, 0.0)
        self._app_usage: float | None = None
        self._page_usage: dict[str | None, _Usage] = {}
        self._throttles: dict[str, _Throttle] = {}
        self._scripted: list[_Scripted] = []
        self._url: str | None = None

    # --- running ----------------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def running(
        cls,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        app_secret: str | None = None,
        strict: bool = False,
        low_quality_share: float = DEFAULT_LOW_QUALITY_SHARE,
        seed: int = 0,
    ) -> AsyncIterator[FakeGraph]:
        """A new fake listening on `host`:`port` (0: any free port) until the block ends."""
        fake = cls(
            app_secret=app_secret, strict=strict, low_quality_share=low_quality_share, seed=seed
        )
        async with fake.serve(host=host, port=port):
            yield fake

    @asynccontextmanager
    async def serve(self, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Listen on a real port for the duration of the block; yields the base url."""
        # A request sleeping in injected latency must not hold shutdown for aiohttp's 60 s.
        runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound_host, bound_port = runner.addresses[0][:2]
            self._url = f"http://{bound_host}:{bound_port}"
            yield self._url
        finally:
            self._url = None
            await runner.cleanup()

    @property
    def url(self) -> str:
        """The base url (`http://127.0.0.1:PORT`), to be used as META_GRAPH_URL."""
        if self._url is None:
            raise RuntimeError("the fake Graph API is not running (use FakeGraph.running)")
        return self._url

    def make_app(self) -> web.Application:
        """The aiohttp application (`serve` runs it; a demo may mount or run it itself)."""
        app = web.Application()
        routes: list[tuple[str, str, Route]] = [
            ("POST", f"/{VERSION}/{{node}}/messages", self._private_reply),
            ("POST", f"/{VERSION}/{{node}}/comments", self._facebook_public_reply),
            ("POST", f"/{VERSION}/{{node}}/replies", self._instagram_public_reply),
            ("GET", f"/{VERSION}/{{node}}/comments", self._list_comments),
            ("GET", f"/{VERSION}/{{node}}/live_videos", self._list_live_videos),
            ("POST", f"/{VERSION}/{{node}}/subscribed_apps", self._subscribe_app),
            ("GET", f"/{VERSION}/{{node}}", self._get_node),
            # Anything else gets Meta's error envelope, not aiohttp's HTML 404/405.
            ("*", "/{tail:.*}", self._unsupported),
        ]
        for method, path, route in routes:
            app.router.add_route(method, path, self._checked(route))
        return app

    def _checked(self, route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            return await self._handle(request, route)

        return handle

    async def _handle(self, request: web.Request, route: Route) -> web.Response:
        """Every request: the checks in Meta's order, the route, usage headers, the record."""
        context = _Context(arrived=self._clock())
        try:
            # The request is read, then handled slowly: like Meta, a call whose caller stopped
            # waiting is still carried out.
            params = await _read_params(request)
            await self._wait_latency()
            page = self._authenticate(params, context)
            self._check_throttle(page, context)
            self._check_scripted(page, context)
            response = await route(_Call(request, page, params, context.arrived))
        except GraphFault as fault:
            response = _error_response(fault, self._trace_id())
        response.headers.update(self._usage_headers(context, request.path))
        response.headers["x-fb-trace-id"] = self._trace_id()
        version = request.match_info.get("version")
        if version is not None:
            response.headers["facebook-api-version"] = version
        page_id = None if context.page is None else context.page.page_id
        self.requests.append(
            RecordedRequest(request.method, request.path, context.arrived, page_id, response.status)
        )
        return response

    # --- test and demo controls -------------------------------------------------------------

    def add_page(self, page_id: str, token: str, platform: Platform = "facebook") -> None:
        """Register a Page (or Instagram account) and its one valid token (replacing any)."""
        old = self._pages.get(page_id)
        if old is not None:
            self._tokens.pop(old.token, None)
        page = _Page(page_id, token, platform)
        self._pages[page_id] = page
        self._tokens[token] = page

    def revoke_token(self, page_id: str) -> None:
        """The Page's token now answers 190 (as after a password change)."""
        self._pages[page_id].revoked = True

    def add_live_video(
        self,
        live_video_id: str,
        page_id: str,
        video_id: str,
        status: str = "LIVE",
        title: str = "",
    ) -> None:
        if page_id not in self._pages:
            raise ValueError(f"add the page {page_id} first")
        self._lives[live_video_id] = _LiveVideo(
            live_video_id, page_id, video_id, status.upper(), title
        )

    def set_status(self, live_video_id: str, status: str) -> None:
        self._lives[live_video_id].status = status.upper()

    def add_comment(
        self,
        live_video_id: str,
        comment_id: str,
        message: str,
        from_id: str,
        from_name: str,
        created_time: datetime | None = None,
        parent_id: str | None = None,
    ) -> None:
        """A viewer's comment on a registered live video (`created_time` aware; default now)."""
        if created_time is not None and created_time.tzinfo is None:
            raise ValueError("created_time must be timezone-aware")
        if comment_id in self._comments:
            raise ValueError(f"comment {comment_id} already exists")
        comment = _Comment(
            id=comment_id,
            live_video_id=live_video_id,
            message=message,
            from_id=from_id,
            from_name=from_name,
            created_time=created_time or datetime.now(UTC),
            parent_id=parent_id,
        )
        self._lives[live_video_id].comments.append(comment)
        self._comments[comment_id] = comment

    def set_latency(self, min_s: float, max_s: float) -> None:
        """Every request waits a random time in [min_s, max_s] before it is handled."""
        if not 0 <= min_s <= max_s:
            raise ValueError("latency needs 0 <= min_s <= max_s")
        self._latency = (min_s, max_s)

    def set_usage(
        self,
        *,
        app_pct: float | None = None,
        page_pct: float | None = None,
        regain_minutes: float | None = None,
        page_id: str | None = None,
    ) -> None:
        """The usage every answer advertises (None: header left out). `page_pct` and
        `regain_minutes` apply to `page_id`, or to every Page when it is None."""
        self._app_usage = app_pct
        self._page_usage[page_id] = _Usage(page_pct, regain_minutes)

    def fail_next(
        self,
        n: int,
        *,
        code: int,
        subcode: int | None = None,
        is_transient: bool = False,
        page_id: str | None = None,
        http_status: int = 400,
        regain_minutes: float | None = None,
        message: str | None = None,
        error_type: str | None = None,
        raw_body: str | None = None,
    ) -> None:
        """The next `n` calls (for `page_id`, or any Page) fail with this error, first in first
        out. `raw_body` replaces the JSON envelope (an HTML 502 from a proxy, say)."""
        fault = GraphFault(
            code,
            message,
            error_type=error_type,
            subcode=subcode,
            http_status=http_status,
            is_transient=is_transient,
            raw_body=raw_body,
        )
        self._scripted.append(_Scripted(n, fault, page_id, regain_minutes))

    def throttle(
        self,
        page_id: str,
        seconds: float,
        *,
        code: int | None = None,
        regain_minutes: float | None = None,
    ) -> None:
        """Throttle a Page for `seconds`: its calls answer 80001 (80002 on Instagram, or `code`)
        with usage at 100%, and each call made meanwhile restarts the wait, as Meta does.

        `estimated_time_to_regain_access` is the remaining time in whole minutes, as Meta sends
        it, unless `regain_minutes` says otherwise (tests use fractions to stay fast)."""
        platform = self._pages[page_id].platform
        self._throttles[page_id] = _Throttle(
            until=self._clock() + seconds,
            seconds=seconds,
            code=code or _THROTTLE_CODE[platform],
            regain_minutes=regain_minutes,
        )

    def throttled_until(self, page_id: str) -> float | None:
        """When the Page's throttle ends on the fake's clock, or None when it is not throttled."""
        throttle = self._throttles.get(page_id)
        if throttle is None or throttle.until <= self._clock():
            return None
        return throttle.until

    def psid_for(self, page_id: str, author_id: str) -> str:
        """The stable page-scoped id the fake gives a comment's author."""
        digest = hashlib.sha256(f"{page_id}:{author_id}".encode()).hexdigest()
        return str(10**15 + int(digest[:13], 16) % (9 * 10**15))

    def requests_for(self, page_id: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.page_id == page_id]

    # --- the checks every request goes through ----------------------------------------------

    async def _wait_latency(self) -> None:
        low, high = self._latency
        if high > 0:
            await asyncio.sleep(self._rng.uniform(low, high))

    def _authenticate(self, params: Params, context: _Context) -> _Page:
        token = params.get("access_token")
        if not isinstance(token, str) or not token:
            raise GraphFault(104, "An access token is required to request this resource.")
        if self.app_secret is not None:
            self._check_proof(token, params.get("appsecret_proof"))
        page = self._tokens.get(token)
        if page is None:
            raise GraphFault(190)
        context.page = page
        if page.revoked:
            raise GraphFault(
                190,
                "Error validating access token: The session has been invalidated because the "
                "user changed their password or Facebook has changed the session for security "
                "reasons.",
                subcode=460,
            )
        return page

    def _check_proof(self, token: str, proof: object) -> None:
        assert self.app_secret is not None
        if not isinstance(proof, str) or not proof:
            raise GraphFault(
                100,
                "API calls from the server require an appsecret_proof argument",
                error_type="GraphMethodException",
            )
        if not proof_matches(self.app_secret, token, proof):
            raise GraphFault(
                100,
                "Invalid appsecret_proof provided in the API argument",
                error_type="GraphMethodException",
            )

    def _check_throttle(self, page: _Page, context: _Context) -> None:
        throttle = self._throttles.get(page.page_id)
        if throttle is None:
            return
        now = self._clock()
        if now >= throttle.until:
            del self._throttles[page.page_id]
            return
        # Calling while throttled restarts the wait: the reason to hold every call meanwhile.
        throttle.until = max(throttle.until, now + throttle.seconds)
        context.blocked_regain = (
            throttle.regain_minutes
            if throttle.regain_minutes is not None
            else math.ceil((throttle.until - now) / 60)
        )
        raise GraphFault(throttle.code, is_transient=False)

    def _check_scripted(self, page: _Page, context: _Context) -> None:
        for index, scripted in enumerate(self._scripted):
            if scripted.page_id is not None and scripted.page_id != page.page_id:
                continue
            scripted.remaining -= 1
            if scripted.remaining <= 0:
                del self._scripted[index]
            context.blocked_regain = scripted.regain_minutes
            raise scripted.fault

    def _usage_headers(self, context: _Context, path: str) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self._app_usage is not None:
            figures = dict.fromkeys(("call_count", "total_cputime", "total_time"), self._app_usage)
            headers["X-App-Usage"] = orjson.dumps(figures).decode()
        page = context.page
        if page is None:
            return headers
        usage = self._page_usage.get(page.page_id) or self._page_usage.get(None) or _Usage()
        percent, regain = usage.percent, usage.regain_minutes
        if context.blocked_regain is not None:
            percent, regain = 100, context.blocked_regain
        if percent is None and regain is None:
            return headers
        entry = {
            "type": _usage_type(page.platform, path),
            "call_count": percent or 0,
            "total_cputime": percent or 0,
            "total_time": percent or 0,
            "estimated_time_to_regain_access": regain or 0,
        }
        headers["X-Business-Use-Case-Usage"] = orjson.dumps({page.page_id: [entry]}).decode()
        return headers

    def _trace_id(self) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
        return "".join(self._rng.choice(alphabet) for _ in range(11))

    # --- routes -----------------------------------------------------------------------------

    async def _private_reply(self, call: _Call) -> web.Response:
        page = _own_node(call)
        comment_id, body = _private_reply_params(call.params)
        comment = self._comment_of_page(comment_id, page)
        if comment_id in self._replied:
            raise GraphFault(10900)
        if comment is not None:
            self._check_window(comment, page)
        author = comment.from_id if comment is not None else f"comment:{comment_id}"
        sent = RecordedMessage(
            page_id=page.page_id,
            comment_id=comment_id,
            text=body,
            recipient_id=self.psid_for(page.page_id, author),
            message_id=f"m_{secrets.token_urlsafe(32)}",
            received_at=call.arrived,
        )
        self._replied.add(comment_id)
        self.messages.append(sent)
        return _json({"recipient_id": sent.recipient_id, "message_id": sent.message_id})

    def _comment_of_page(self, comment_id: str, page: _Page) -> _Comment | None:
        """The registered comment, None for an unknown one (accepted unless strict)."""
        comment = self._comments.get(comment_id)
        if comment is None:
            if self.strict:
                raise _not_found(comment_id)
            return None
        if self._lives[comment.live_video_id].page_id != page.page_id:
            raise _not_found(comment_id)
        return comment

    def _check_window(self, comment: _Comment, page: _Page) -> None:
        if datetime.now(UTC) - comment.created_time > PRIVATE_REPLY_WINDOW:
            raise GraphFault(10, _WINDOW_MESSAGE, subcode=WINDOW_SUBCODE)
        live = self._lives[comment.live_video_id]
        # Instagram live comments can be answered privately only while the broadcast is on.
        if page.platform == "instagram" and live.status != "LIVE":
            raise GraphFault(10, _WINDOW_MESSAGE, subcode=INSTAGRAM_WINDOW_SUBCODE)

    async def _facebook_public_reply(self, call: _Call) -> web.Response:
        return self._public_reply(call, "facebook")

    async def _instagram_public_reply(self, call: _Call) -> web.Response:
        return self._public_reply(call, "instagram")

    def _public_reply(self, call: _Call, platform: Platform) -> web.Response:
        message = call.params.get("message")
        if not isinstance(message, str) or not message:
            raise GraphFault(100, "(#100) Missing message or attachment")
        self._comment_of_page(call.node, call.page)
        serial = next(self._ids)
        if platform == "facebook":
            reply_id = f"{call.node.split('_', 1)[0]}_{9 * 10**14 + serial}"
        else:
            reply_id = str(17 * 10**15 + serial)
        self.public_replies.append(
            RecordedPublicReply(
                page_id=call.page.page_id,
                comment_id=call.node,
                text=message,
                reply_id=reply_id,
                platform=platform,
                received_at=call.arrived,
            )
        )
        return _json({"id": reply_id})

    async def _list_comments(self, call: _Call) -> web.Response:
        live = self._live_of_page(call.node, call.page)
        params = call.params
        comments = sorted(live.comments, key=lambda comment: comment.created_time)
        if params.get("order") == "reverse_chronological":
            comments.reverse()
        if params.get("live_filter", "filter_low_quality") != "no_filter":
            comments = [c for c in comments if not _low_quality(c.id, self.low_quality_share)]
        limit = _limit(params.get("limit"))
        start = _start_after(comments, params.get("after"))
        page = comments[start : start + limit]
        fields = _fields(params.get("fields"), _DEFAULT_COMMENT_FIELDS)
        body: JsonObject = {"data": [_render_comment(c, fields) for c in page]}
        if page:
            paging: JsonObject = {
                "cursors": {"before": _cursor(page[0].id), "after": _cursor(page[-1].id)}
            }
            # Meta keeps `cursors.after` on the last page; only `next` says there is more.
            if start + limit < len(comments):
                query = {**call.request.query, "after": _cursor(page[-1].id)}
                paging["next"] = str(call.request.url.with_query(query))
            body["paging"] = paging
        return _json(body)

    async def _get_node(self, call: _Call) -> web.Response:
        live = self._live_of_page(call.node, call.page)
        fields = _fields(call.params.get("fields"), _DEFAULT_LIVE_FIELDS)
        return _json(_render_live(live, fields))

    async def _list_live_videos(self, call: _Call) -> web.Response:
        page = _own_node(call)
        wanted = _statuses(call.params.get("broadcast_status"))
        fields = _fields(call.params.get("fields"), _DEFAULT_LIVE_FIELDS)
        lives = [
            live
            for live in self._lives.values()
            if live.page_id == page.page_id and (wanted is None or live.status in wanted)
        ]
        body: JsonObject = {"data": [_render_live(live, fields) for live in lives]}
        if lives:
            body["paging"] = {
                "cursors": {"before": _cursor(lives[0].id), "after": _cursor(lives[-1].id)}
            }
        return _json(body)

    async def _subscribe_app(self, call: _Call) -> web.Response:
        page = _own_node(call)
        fields = _fields(call.params.get("subscribed_fields"), ())
        if not fields:
            raise GraphFault(100, "(#100) The parameter subscribed_fields is required")
        self.subscriptions[page.page_id] = fields
        return _json({"success": True})

    async def _unsupported(self, call: _Call) -> web.Response:
        request = call.request
        raise GraphFault(
            100,
            f"Unsupported {request.method.lower()} request. Unknown path components: "
            f"{request.path}",
            error_type="GraphMethodException",
        )

    def _live_of_page(self, live_video_id: str, page: _Page) -> _LiveVideo:
        live = self._lives.get(live_video_id)
        if live is None or live.page_id != page.page_id:
            raise _not_found(live_video_id)
        return live


# --- wire helpers ----------------------------------------------------------------------------


def _private_reply_params(params: Params) -> tuple[str, str]:
    """The comment id and text of a private reply (JSON body or form fields holding JSON)."""
    recipient = _object_param(params, "recipient")
    comment_id = None if recipient is None else text(recipient, "comment_id")
    if not comment_id:
        raise GraphFault(100, "(#100) The parameter recipient is required")
    message = _object_param(params, "message")
    body = None if message is None else text(message, "text")
    if not body:
        raise GraphFault(100, "(#100) Param message must be non-empty")
    if len(body) > MAX_MESSAGE_LENGTH:
        raise GraphFault(
            100, f"(#100) Length of param message[text] must be <= {MAX_MESSAGE_LENGTH}"
        )
    return comment_id, body


def _error_response(fault: GraphFault, trace_id: str) -> web.Response:
    if fault.raw_body is not None:
        return web.Response(status=fault.http_status, text=fault.raw_body, content_type="text/html")
    error: JsonObject = {"message": fault.message, "type": fault.error_type, "code": fault.code}
    if fault.subcode is not None:
        error["error_subcode"] = fault.subcode
    if fault.is_transient is not None:
        error["is_transient"] = fault.is_transient
    error["fbtrace_id"] = trace_id
    return _json({"error": error}, status=fault.http_status)


async def _read_params(request: web.Request) -> Params:
    """Query string and body (JSON or form) as one mapping, as the Graph API reads them; an
    `Authorization: Bearer|OAuth` header stands for `access_token`."""
    params: Params = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            params.update(loads_object(await request.read()) or {})
        else:
            form = await request.post()
            params.update({key: value for key, value in form.items() if isinstance(value, str)})
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in {"bearer", "oauth"} and credential and "access_token" not in params:
        params["access_token"] = credential.strip()
    return params


def _own_node(call: _Call) -> _Page:
    """The authenticated Page, which must be the node of the path (its own edges only)."""
    if call.node != call.page.page_id:
        raise GraphFault(200)
    return call.page


def _object_param(params: Params, key: str) -> JsonObject | None:
    """A parameter holding an object: a JSON body's object or a form field's JSON text."""
    value = params.get(key)
    if isinstance(value, str):
        return loads_object(value)
    return as_object(value)


def _fields(raw: object, default: tuple[str, ...]) -> tuple[str, ...]:
    """Top-level names of a `fields` list: `id,from{id,name},message` -> id, from, message."""
    if isinstance(raw, list):
        raw = ",".join(str(item) for item in raw)
    if not isinstance(raw, str) or not raw.strip():
        return default
    names: list[str] = []
    depth, current = 0, ""
    for char in raw + ",":
        if char == "," and depth == 0:
            if current.strip():
                names.append(current.strip())
            current = ""
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0 and char != "}":
            current += char
    return tuple(names)


def _statuses(raw: object) -> frozenset[str] | None:
    """`broadcast_status=["LIVE"]` (JSON, as documented) or `LIVE,VOD`; None when absent."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        parsed: object = orjson.loads(raw)
    except orjson.JSONDecodeError:
        parsed = raw.split(",")
    items: Iterable[object] = parsed if isinstance(parsed, list) else [parsed]
    return frozenset(str(item).strip().upper() for item in items)


def _limit(raw: object) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not isinstance(raw, str) or not raw.isdigit() or int(raw) == 0:
        raise GraphFault(100, "(#100) Param limit must be a positive integer")
    return int(raw)


def _cursor(object_id: str) -> str:
    return base64.urlsafe_b64encode(f"cursor:{object_id}".encode()).decode().rstrip("=")


def _cursor_id(cursor: str) -> str | None:
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    prefix, _, object_id = decoded.partition(":")
    return object_id if prefix == "cursor" and object_id else None


def _start_after(comments: list[_Comment], after: object) -> int:
    """Where a page begins: just past the comment the `after` cursor names."""
    if after is None:
        return 0
    comment_id = _cursor_id(after) if isinstance(after, str) else None
    for index, comment in enumerate(comments):
        if comment.id == comment_id:
            return index + 1
    raise GraphFault(100, "(#100) The after cursor is not valid", error_type="OAuthException")


def _low_quality(comment_id: str, share: float) -> bool:
    """Meta's default filter hides some comments; the fake hides a fixed share, chosen by id so
    the same comments are hidden on every call."""
    digest = hashlib.sha256(comment_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def _render_comment(comment: _Comment, fields: tuple[str, ...]) -> JsonObject:
    values: JsonObject = {
        "id": comment.id,
        "message": comment.message,
        "from": {"id": comment.from_id, "name": comment.from_name},
        "created_time": comment.created_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
    }
    if comment.parent_id is not None:
        values["parent"] = {"id": comment.parent_id}
    return _select(values, fields)


def _render_live(live: _LiveVideo, fields: tuple[str, ...]) -> JsonObject:
    values: JsonObject = {
        "id": live.id,
        "status": live.status,
        "title": live.title,
        "video": {"id": live.video_id},
        "permalink_url": f"/{live.page_id}/videos/{live.video_id}/",
    }
    return _select(values, fields)


def _select(values: JsonObject, fields: tuple[str, ...]) -> JsonObject:
    """The requested fields that exist; Meta always includes `id`."""
    return {key: value for key, value in values.items() if key == "id" or key in fields}


def _usage_type(platform: Platform, path: str) -> str:
    if platform == "instagram":
        return "instagram"
    return "messenger" if path.endswith("/messages") else "pages"


def _not_found(object_id: str) -> GraphFault:
    return GraphFault(
        100,
        f"Unsupported request. Object with ID '{object_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation.",
        error_type="GraphMethodException",
        subcode=NOT_FOUND_SUBCODE,
    )


def _json(body: JsonObject, *, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")

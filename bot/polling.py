"""Polling live comments: the fallback that finds the comments webhooks lost (platforms.md §2).

While a Facebook live is on, and until its replay deadline, its comments are read newest first
(`live_filter=no_filter`: Meta's default filter drops short comments, which is what orders look
like) until the poller reaches comments it has already seen. What is new goes into the same
pipeline as webhook deliveries, where UNIQUE (platform, comment id, verb) makes a comment that
arrives both ways one order. The in-memory set of recent ids only saves work; SQL decides.

Rate limits: a throttled Page is left alone until Meta says access is back (or a backoff from
60 s), because calls made while throttled extend the throttle; at 80% usage the Page is polled
four times less often, at 95% it rests a minute.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.graph import (
    CommentsPage,
    GraphClient,
    GraphComment,
    GraphError,
    GraphFailure,
    LiveVideo,
    Usage,
)
from bot.lives import ENDED_STATUSES
from bot.pipeline import Pipeline
from bot.runtime import Runtime
from storage.db import chunked
from storage.models import Comment, Live, Page
from storage.outbox import write_staff_alert
from storage.types import utcnow
from webhooks.envelope import (
    LONGEST_OBJECT_ID,
    CommentEvent,
    LiveStatusEvent,
    readable_id,
    readable_name,
    readable_text,
)

log = logging.getLogger("livecart.polling")

PAGE_SIZE = 100
# Pages read per live per poll; a longer backlog (a restart mid-live) goes on at the next poll.
MAX_PAGES_PER_POLL = 20
# Polling finds comments but no webhook came for this long: the webhooks have gone quiet.
WEBHOOKS_QUIET_AFTER = timedelta(seconds=60)
RECENT_IDS_PER_LIVE = 5000
SLOW_AT, HOLD_AT = 80.0, 95.0
SLOW_FACTOR = 4
HOLD_SECONDS = 60.0
THROTTLE_BACKOFF, MAX_THROTTLE_BACKOFF = 60.0, 900.0
MAX_ERROR_BACKOFF = 300.0
STATUS_EVERY = 60.0  # seconds between asking Meta whether a broadcast is still on
_CHUNK = 500


async def run_poller(runtime: Runtime, stop: asyncio.Event) -> None:
    """The background task of `livecart serve`: poll until `stop` is set."""
    settings = runtime.settings
    async with aiohttp.ClientSession() as http:
        graph = GraphClient(
            http,
            base_url=settings.meta_graph_url,
            version=settings.meta_graph_version,
            app_secret=settings.meta_app_secret,
        )
        await LivePoller(runtime, graph, every=settings.poll_every.total_seconds()).run(stop)


# --- what is polled --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollTarget:
    live_id: int
    page_id: str
    node: str  # the live video object id (or the video id): GET /{node}/comments
    post_id: str  # `{page_id}_{video_id}`, as webhooks name the live's post
    token: str | None
    live_video_id: str | None  # known: the broadcast's status can be asked for
    broadcasting: bool  # status `live` (not yet in its replay)


async def poll_targets(
    session: AsyncSession, now: datetime, fallback_token: str | None
) -> list[PollTarget]:
    """Facebook broadcasts that are on, or in their replay before its deadline."""
    lives = (
        await session.scalars(
            select(Live)
            .where(
                Live.platform == "facebook",
                Live.broadcast.is_(True),
                Live.video_id.is_not(None),
                or_(
                    Live.status == "live",
                    and_(
                        Live.status == "replay",
                        or_(Live.replay_deadline.is_(None), Live.replay_deadline > now),
                    ),
                ),
            )
            .order_by(Live.id)
        )
    ).all()
    tokens = await _page_tokens(session, {live.page_id for live in lives})
    return [
        PollTarget(
            live_id=live.id,
            page_id=live.page_id,
            node=live.live_video_id or str(live.video_id),
            post_id=live.post_id or f"{live.page_id}_{live.video_id}",
            token=tokens.get(live.page_id) or fallback_token,
            live_video_id=live.live_video_id,
            broadcasting=live.status == "live",
        )
        for live in lives
    ]


async def _page_tokens(session: AsyncSession, page_ids: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in chunked(sorted(page_ids), _CHUNK):
        rows = await session.execute(
            select(Page.page_id, Page.access_token).where(
                Page.platform == "facebook", Page.page_id.in_(chunk)
            )
        )
        found.update({page_id: token for page_id, token in rows.all() if token})
    return found


async def stored_comment_ids(session: AsyncSession, comment_ids: Sequence[str]) -> set[str]:
    """The Facebook comment ids among these already stored (by either route)."""
    stored: set[str] = set()
    for chunk in chunked(comment_ids, _CHUNK):
        rows = await session.scalars(
            select(Comment.comment_id).where(
                Comment.platform == "facebook",
                Comment.verb == "add",
                Comment.comment_id.in_(chunk),
            )
        )
        stored.update(rows.all())
    return stored


def comment_event(target: PollTarget, comment: GraphComment) -> CommentEvent | None:
    """A polled comment as the event its webhook would have been (same ids, same key, values
    cleaned the same way); None for an id the database could not keep."""
    comment_id = readable_id(comment.id, LONGEST_OBJECT_ID)
    if comment_id is None:
        return None
    return CommentEvent(
        platform="facebook",
        field="feed",
        verb="add",
        comment_id=comment_id,
        page_id=target.page_id,
        post_id=target.post_id,
        parent_id=readable_id(comment.parent_id, LONGEST_OBJECT_ID),
        author_id=readable_id(comment.from_id),
        author_name=readable_name(comment.from_name),
        text=readable_text(comment.message),
        created_time=comment.created_time,
    )


# --- what the poller remembers ---------------------------------------------------------------


class RecentIds:
    """The last `size` comment ids seen; the oldest are forgotten first."""

    def __init__(self, size: int = RECENT_IDS_PER_LIVE) -> None:
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, comment_id: object) -> bool:
        return comment_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add_all(self, comment_ids: Iterable[str]) -> None:
        for comment_id in comment_ids:
            self._ids[comment_id] = None
            self._ids.move_to_end(comment_id)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)


def reached_seen(comments: Sequence[GraphComment], seen: RecentIds) -> bool:
    """Whether reading further pages would only find comments already seen.

    A page that holds a seen comment and runs on into an older second holds every comment of
    that second: Meta orders comments of one second arbitrarily, so stopping at the first seen
    id could miss a neighbour of the same second."""
    known = [comment.created_time for comment in comments if comment.id in seen]
    return bool(known) and comments[-1].created_time < max(known)


@dataclass(slots=True)
class _LiveState:
    seen: RecentIds = field(default_factory=RecentIds)
    resume_after: str | None = None  # a backlog cut short by MAX_PAGES_PER_POLL goes on here
    status_checked: float | None = None
    lookup_checked: float | None = None  # last asked which live video shows the video
    failures: int = 0
    not_before: float = 0.0


@dataclass(slots=True)
class _PageState:
    held_until: float = 0.0  # throttled, or usage at HOLD_AT: no call at all before this
    next_poll: float = 0.0  # usage at SLOW_AT: the next poll waits until this
    throttle_backoff: float = 0.0
    slowed: bool = False
    refused_token: str | None = None  # fingerprint of a token Meta refused (190/102)


@dataclass(frozen=True, slots=True)
class _Walk:
    comments: list[GraphComment]
    resume_after: str | None


class _PageHeld(Exception):
    """The Page must not be called for now (throttled, or its usage near the limit)."""


# --- the poller ------------------------------------------------------------------------------


class LivePoller:
    def __init__(
        self,
        runtime: Runtime,
        graph: GraphClient,
        *,
        every: float,
        clock: Callable[[], float] = time.monotonic,
        max_pages: int = MAX_PAGES_PER_POLL,
    ) -> None:
        self._runtime = runtime
        self._graph = graph
        self._every = every
        self._clock = clock
        self._max_pages = max_pages
        self._pipeline = Pipeline.for_runtime(runtime)
        self._lives: dict[int, _LiveState] = {}
        self._pages: dict[str, _PageState] = {}
        self._warned_no_token: set[int] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every `every` seconds until `stop` is set; a failed poll is logged, never fatal.

        A poll under way when `stop` is set is cancelled: what it had not stored yet is found
        again by the next process, and what it stored is committed or rolled back whole."""
        log.info("polling live comments every %.0f s", self._every)
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                polling = asyncio.create_task(self.poll_once())
                await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not polling.done():
                    polling.cancel()
                    await asyncio.wait({polling})
                    return
                if not polling.cancelled() and polling.exception() is not None:
                    log.error(
                        "polling live comments failed; trying again in %.0f s",
                        self._every,
                        exc_info=polling.exception(),
                    )
                await asyncio.wait({stopping}, timeout=self._every)
        finally:
            stopping.cancel()

    async def poll_once(self) -> int:
        """Poll every live due now; returns how many comments were new to livecart."""
        async with self._runtime.sessions() as session:
            targets = await poll_targets(session, utcnow(), self._runtime.settings.meta_page_token)
        self._forget_all_but({target.live_id for target in targets})
        stored = 0
        for target in targets:
            stored += await self._poll_live(target)
        return stored

    async def _poll_live(self, target: PollTarget) -> int:
        token = target.token
        if token is None:
            self._warn_no_token(target)
            return 0
        page = self._pages.setdefault(target.page_id, _PageState())
        live = self._lives.setdefault(target.live_id, _LiveState())
        now = self._clock()
        if now < max(page.held_until, page.next_poll, live.not_before):
            return 0
        if page.refused_token == _fingerprint(token):
            return 0
        try:
            target = await self._with_live_video(target, token, live)
            walk = await self._walk(target, token, live)
            stored = await self._store(target, walk.comments)
        except _PageHeld:
            return 0
        except GraphFailure as failure:
            self._failed(target, token, live, failure)
            return 0
        except Exception:
            log.exception("live %d: polling its comments failed", target.live_id)
            self._back_off(live)
            return 0
        live.seen.add_all(comment.id for comment in walk.comments)
        live.resume_after = walk.resume_after
        if live.failures:
            log.info("live %d: comments are polled again", target.live_id)
        live.failures, live.not_before = 0, 0.0
        await self._follow_status(target, token, live)
        return stored

    async def _walk(self, target: PollTarget, token: str, live: _LiveState) -> _Walk:
        """New comments from the newest down to those already seen, then a page budget's worth
        of an older backlog (a restart mid-live, a burst longer than the budget)."""
        found, resume = await self._read_pages(target, token, live, None)
        if resume is None and live.resume_after is not None:
            older, resume = await self._read_pages(target, token, live, live.resume_after)
            found += older
        if resume is not None:
            log.info(
                "live %d: more than %d pages of comments to read; the rest at the next polls",
                target.live_id,
                self._max_pages,
            )
        return _Walk(found, resume)

    async def _read_pages(
        self, target: PollTarget, token: str, live: _LiveState, after: str | None
    ) -> tuple[list[GraphComment], str | None]:
        """Unseen comments from `after` on, and where to go on when the page budget ran out."""
        found: list[GraphComment] = []
        for _ in range(self._max_pages):
            page = await self._call(target, token, after)
            found += [comment for comment in page.comments if comment.id not in live.seen]
            if not page.comments or page.next_cursor is None:
                return found, None
            if reached_seen(page.comments, live.seen):
                return found, None
            after = page.next_cursor
        return found, after

    async def _follow_status(self, target: PollTarget, token: str, live: _LiveState) -> None:
        """Meta's `live_videos` webhook can be lost like any other: once a minute, ask whether
        the broadcast ended, so that its replay window starts (and ends) all the same."""
        now = self._clock()
        due = _due(live.status_checked, now)
        if target.live_video_id is None or not target.broadcasting or not due:
            return
        live.status_checked = now
        try:
            video = await self._call_status(target, target.live_video_id, token)
            if video.status in ENDED_STATUSES:
                status = LiveStatusEvent("facebook", target.page_id, video.id, video.status)
                await self._pipeline.store([], [status], source="poll")
        except _PageHeld:
            return
        except GraphFailure as failure:
            if failure.is_throttle:
                self._failed(target, token, live, failure)
            else:
                log.warning(
                    "live %d: its broadcast status is unknown (%s)", target.live_id, failure
                )
        except Exception:
            log.exception("live %d: following its broadcast status failed", target.live_id)

    async def _with_live_video(
        self, target: PollTarget, token: str, live: _LiveState
    ) -> PollTarget:
        """A broadcast registered by its video id alone learns its live video id (once a
        minute until found): Meta's status webhook names that, and its comments are read
        unfiltered only there."""
        now = self._clock()
        due = _due(live.lookup_checked, now)
        if target.live_video_id is not None or not target.broadcasting or not due:
            return target
        live.lookup_checked = now
        video = await self._find_live_video(target, token)
        if video is None:
            return target
        return replace(target, node=video.id, live_video_id=video.id)

    async def _find_live_video(self, target: PollTarget, token: str) -> LiveVideo | None:
        """The Page's live video of this live's video, remembered on the live."""
        self._not_held(target)
        videos = await self._graph.live_videos(
            target.page_id, token, broadcast_status=("LIVE", *sorted(ENDED_STATUSES))
        )
        if videos:
            self._note_usage(target.page_id, videos[0].usage)
        video = next((v for v in videos if v.video_id == target.node), None)
        if video is None:
            log.warning(
                "live %d: no live video of Page %s shows video %s; its end is known only when "
                "staff end it (or set its live video id)",
                target.live_id,
                target.page_id,
                target.node,
            )
            return None
        async with self._runtime.sessions.begin() as session:
            await session.execute(
                update(Live)
                .where(Live.id == target.live_id, Live.live_video_id.is_(None))
                .values(live_video_id=video.id)
            )
        log.info("live %d: its live video is %s (asked Meta)", target.live_id, video.id)
        return video

    def _not_held(self, target: PollTarget) -> None:
        if self._clock() < self._pages[target.page_id].held_until:
            raise _PageHeld

    async def _call_status(self, target: PollTarget, live_video_id: str, token: str) -> LiveVideo:
        self._not_held(target)
        video = await self._graph.live_video(live_video_id, token)
        self._note_usage(target.page_id, video.usage)
        return video

    async def _call(self, target: PollTarget, token: str, after: str | None) -> CommentsPage:
        self._not_held(target)
        page = await self._graph.live_comments(target.node, token, after=after, limit=PAGE_SIZE)
        self._note_usage(target.page_id, page.usage)
        return page

    async def _store(self, target: PollTarget, comments: Sequence[GraphComment]) -> int:
        """Feed the comments livecart does not have into the pipeline; how many there were."""
        # Not the Page's own replies, nor what the database could not keep.
        mine = [
            event
            for event in (comment_event(target, c) for c in comments if c.from_id != target.page_id)
            if event is not None
        ]
        if not mine:
            return 0
        async with self._runtime.sessions() as session:
            stored = await stored_comment_ids(session, [e.comment_id for e in mine])
        events = [event for event in mine if event.comment_id not in stored]
        if not events:
            return 0
        # Oldest first, as a viewer wrote them: first come, first served on scarce stock.
        events.sort(key=lambda event: (event.created_time or utcnow(), event.comment_id))
        await self._pipeline.take_in(events, source="poll")
        log.info(
            "live %d: %d comments found by polling that webhooks had not delivered",
            target.live_id,
            len(events),
        )
        await self._alert_if_webhooks_quiet(target, len(events))
        return len(events)

    async def _alert_if_webhooks_quiet(self, target: PollTarget, found: int) -> None:
        """Polling finds comments while no webhook delivered any for a while: Meta's webhooks
        for this Page may be off (unsubscribed app, expired subscription); staff hear once an
        hour per live."""
        now = utcnow()
        async with self._runtime.sessions.begin() as session:
            last = await session.scalar(
                select(func.max(Comment.received_at)).where(
                    Comment.live_id == target.live_id, Comment.source == "webhook"
                )
            )
            if last is not None and now - last < WEBHOOKS_QUIET_AFTER:
                return
            quiet = "never delivered any" if last is None else f"quiet since {last:%H:%M} UTC"
            await write_staff_alert(
                session,
                f"alert:webhooks_quiet:{target.live_id}:{now:%Y%m%d%H}",
                {
                    "alert": "webhooks_quiet",
                    "text": (
                        f"Live {target.live_id}: Meta's webhooks are {quiet}, but polling just "
                        f"found {found} new comment(s). Check the app's subscription on Page "
                        f"{target.page_id} (`livecart pages subscribe {target.page_id}`)."
                    ),
                },
            )

    # --- rate limits and failures -------------------------------------------------------------

    def _note_usage(self, page_id: str, usage: Usage) -> None:
        page = self._pages[page_id]
        percent = usage.percent
        now = self._clock()
        if percent is not None and percent >= HOLD_AT:
            page.held_until = max(page.held_until, now + HOLD_SECONDS)
            log.warning(
                "page %s: Graph API usage at %.0f%%; polling rests %.0f s",
                page_id,
                percent,
                HOLD_SECONDS,
            )
        elif percent is not None and percent >= SLOW_AT:
            page.next_poll = max(page.next_poll, now + self._every * SLOW_FACTOR)
            if not page.slowed:
                log.warning(
                    "page %s: Graph API usage at %.0f%%; polling it %d times less often",
                    page_id,
                    percent,
                    SLOW_FACTOR,
                )
            page.slowed = True
        else:
            page.slowed = False
            page.throttle_backoff = 0.0

    def _failed(
        self, target: PollTarget, token: str, live: _LiveState, failure: GraphFailure
    ) -> None:
        page = self._pages[target.page_id]
        if failure.is_throttle:
            page.throttle_backoff = min(
                max(page.throttle_backoff * 2, THROTTLE_BACKOFF), MAX_THROTTLE_BACKOFF
            )
            wait = failure.retry_after or page.throttle_backoff
            page.held_until = self._clock() + wait
            log.warning(
                "page %s is rate limited by Meta; its lives are polled again in %.0f s",
                target.page_id,
                wait,
            )
        elif isinstance(failure, GraphError) and failure.is_token_invalid:
            page.refused_token = _fingerprint(token)
            log.warning(
                "page %s: Meta refused its access token (%s); its lives are not polled until "
                "the token is renewed (`livecart pages add`)",
                target.page_id,
                failure,
            )
        else:
            wait = self._back_off(live)
            log.warning(
                "live %d: polling its comments failed (%s); trying again in %.0f s",
                target.live_id,
                failure,
                wait,
            )

    def _back_off(self, live: _LiveState) -> float:
        live.failures += 1
        wait = min(self._every * 2.0 ** min(live.failures, 16), MAX_ERROR_BACKOFF)
        live.not_before = self._clock() + wait
        return wait

    def _warn_no_token(self, target: PollTarget) -> None:
        if target.live_id in self._warned_no_token:
            return
        self._warned_no_token.add(target.live_id)
        log.warning(
            "live %d: page %s has no access token (`livecart pages add` or META_PAGE_TOKEN); "
            "its comments are not polled",
            target.live_id,
            target.page_id,
        )

    def _forget_all_but(self, live_ids: set[int]) -> None:
        """Lives that closed need no memory; their ids would only grow the sets."""
        for live_id in set(self._lives) - live_ids:
            del self._lives[live_id]
        self._warned_no_token &= live_ids


def _fingerprint(token: str) -> str:
    """A token's fingerprint: tells tokens apart without keeping or logging them."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _due(last_asked: float | None, now: float) -> bool:
    """Whether Meta may be asked about a broadcast again (never yet, or a minute ago)."""
    return last_asked is None or now - last_asked >= STATUS_EVERY

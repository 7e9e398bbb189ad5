"""The reply dispatcher: sends `reply` and `public_reply` outbox rows through the Graph API.

Many calls are in flight at once, but each Page (or Instagram account) has its own token bucket
per lane (in Redis with REDIS_URL, so that every process sending for it keeps to one rate) and
its own pace: halved while Meta reports 80% of a limit, held at 95% and while throttled, held
while its token is refused. Every answer decides the row's fate (platforms.md §2):

- sent, or 10900 (the buyer already has it): `sent`;
- throttled: the Page is held (Meta's regain time, or backoff from ~60 s) and the row requeued
  without counting a failure;
- temporary errors: retried with exponential backoff and jitter (a public reply only when the
  request never reached Meta: see below);
- terminal errors: `failed`, never retried; a refused token also marks the Page, alerts staff
  once per incident and holds the Page's other rows until the token changes.

Rows are leased while they are handled, so several dispatchers (processes) can run side by side
and a crashed one's rows come back when their lease runs out (a private reply that did go out
then answers 10900 and is marked sent). Public replies go out at most once: Meta has no "already
replied" for them, so a failure that may have come after the post fails them, those Meta
surely did not post (no connection, a throttle, a refused token) do not count as attempts, and
one that comes back with an attempt counted (claimed by a process that stopped before writing
its outcome) is failed.
Nothing here stops the loop: every failure is logged and the loop goes on.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.dispatch.alerts import (
    LASTING_THROTTLES,
    lasting_throttle_alert,
    permission_alert,
    token_refused_alert,
)
from bot.dispatch.backoff import Backoff
from bot.dispatch.outcomes import (
    Dead,
    Failed,
    Outcome,
    OutcomeWriter,
    Release,
    Retry,
    Sent,
    TokenRefused,
)
from bot.dispatch.pacing import PacingPolicy, PagePace
from bot.dispatch.rate import Buckets, LocalBuckets, Pace, RateLimiter, hourly_pace, pace_for
from bot.dispatch.reply_jobs import (
    POSTS_PARTITION_ENDING,
    REPLY_KINDS,
    Lane,
    MalformedRow,
    ReplyJob,
    Verdict,
    is_posts_partition,
    judge,
    page_of_partition,
    page_partitions,
    read_job,
)
from bot.dispatch.timing import pause
from bot.dispatch.tokens import PageKey, PageTokens, TokenState
from bot.graph import GraphClient, GraphError, GraphFailure, GraphUnavailable, Usage
from bot.settings import Settings
from storage.db import SessionFactory
from storage.outbox import ClaimedMessage, claim_due, instagram_live_comments
from storage.redis_buckets import BucketsUnavailable
from storage.types import utcnow

log = logging.getLogger("livecart.dispatch")
IDLE_AFTER_ERROR = 2.0
POSTS_PER_CLAIM = 2
UNKNOWN_PUBLIC_OUTCOME = (
    "an earlier claim ended with no outcome recorded; it may have been posted, so not sent again"
)
RETRY_BACKOFF = Backoff(first=2.0, cap=300.0)


@dataclass(frozen=True, slots=True)
class ReplyPolicy:
    concurrency: int = 256  # rows claimed and not finished, over all Pages
    # Rows per claim: small enough that one Page's backlog cannot take every free slot in one
    # go (a claim cannot cap rows per Page itself) before the other Pages get a look in.
    claim_batch: int = 64
    lookahead: float = 1.5  # seconds of sends a Page may have claimed ahead of its bucket
    lease: timedelta = timedelta(seconds=60)
    poll: float = 0.25  # seconds between looks at the outbox when there is nothing to take
    burst_seconds: float = 0.1  # a Page's burst: this many seconds' worth of sends
    retry: Backoff = RETRY_BACKOFF
    unclassified_attempts: int = 5  # codes platforms.md does not list: this many tries
    reply_window: timedelta = timedelta(days=7)  # Meta's private reply window
    token_recheck: timedelta = timedelta(seconds=60)  # how often a refused Page is looked at
    pacing: PacingPolicy = field(default_factory=PacingPolicy)


@dataclass(frozen=True, slots=True)
class _Ready:
    """A claimed row that may be sent, with the token to send it with."""

    job: ReplyJob
    token: str


_Planned = tuple[ClaimedMessage, _Ready | Outcome]


class ReplyDispatcher:
    def __init__(
        self,
        sessions: SessionFactory,
        graph: GraphClient,
        settings: Settings,
        *,
        policy: ReplyPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        buckets: Buckets | None = None,
    ) -> None:
        self._sessions = sessions
        self._graph = graph
        self._policy = policy or ReplyPolicy()
        self._lanes: dict[Lane, Pace] = {
            "standard": pace_for(settings.reply_rate_per_page, self._policy.burst_seconds),
            "live": pace_for(settings.reply_rate_instagram_live, self._policy.burst_seconds),
            "posts": hourly_pace(settings.reply_limit_instagram_posts),
        }
        self._posts_per_hour = settings.reply_limit_instagram_posts
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        # In Redis (with REDIS_URL), every process sending for an account keeps one pace.
        self._limiter = RateLimiter(buckets or LocalBuckets(clock), sleep=sleep)
        self._tokens = PageTokens(settings.meta_page_token)
        self._writer = OutcomeWriter(sessions)
        self._paces: dict[str, PagePace] = {}
        self._queued: Counter[str] = Counter()  # partition -> rows claimed, not finished
        self._live_pages: set[str] = set()  # pages whose last row was an Instagram live reply
        self._stopping = False
        self._redis_failing = False  # the last take met a Redis that did not answer
        # Pages whose replies this process does not try until then (clock): Redis did not
        # answer for their pace.
        self._redis_waits: dict[str, float] = {}

    # --- running ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; then give back rows still waiting and finish the rest."""
        log.info(
            "reply dispatcher started: %.0f/s per Page, %.0f/s per Instagram account on live, "
            "%d an hour per Instagram account on posts and reels",
            self._lanes["standard"].rate,
            self._lanes["live"].rate,
            self._posts_per_hour,
        )
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                room = min(self._policy.concurrency - len(in_flight), self._policy.claim_batch)
                started = await self._start(room, in_flight) if room > 0 else 0
                if started == 0:
                    # Nothing due, every Page busy, or no room: look again a moment later.
                    await pause(stop, self._policy.poll)
        finally:
            self._stopping = True
            await asyncio.gather(*in_flight, return_exceptions=True)
            await self._writer.close()
            self._stopping = False
        log.info("reply dispatcher stopped")

    async def drain_once(self) -> int:
        """Claim one batch, send it, record every outcome; returns how many rows were claimed."""
        try:
            planned = await self._claim(self._policy.concurrency)
            await asyncio.gather(*(self._handle(message, plan) for message, plan in planned))
        finally:
            await self._writer.close()
        return len(planned)

    async def _start(self, room: int, in_flight: set[asyncio.Task[None]]) -> int:
        try:
            planned = await self._claim(room)
        except Exception:
            log.exception("could not claim replies from the outbox; trying again shortly")
            await asyncio.sleep(IDLE_AFTER_ERROR)
            return 0
        for message, plan in planned:
            task = asyncio.create_task(self._handle(message, plan), name=f"reply-{message.id}")
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        return len(planned)

    # --- claiming ---------------------------------------------------------------------------

    async def _claim(self, limit: int) -> list[_Planned]:
        now, busy = self._wall_clock(), self._busy_partitions()
        async with self._sessions.begin() as session:

            async def claim(most: int, posts: bool) -> list[ClaimedMessage]:
                return await claim_due(
                    session,
                    REPLY_KINDS,
                    limit=most,
                    lease=self._policy.lease,
                    now=now,
                    skip_partitions=busy,
                    partitions_ending=(POSTS_PARTITION_ENDING, posts),
                )

            claimed = await claim(limit, posts=False)
            # Instagram post replies apart, a few a claim: a claim cannot cap rows per
            # partition, and at 750 an hour a full claim's worth would wait out its lease.
            if (room := min(POSTS_PER_CLAIM, limit - len(claimed))) > 0:
                claimed += await claim(room, posts=True)
            if not claimed:
                return []
            jobs = [_read(message) for message in claimed]
            readable = [job for job in jobs if isinstance(job, ReplyJob)]
            tokens = await self._tokens.resolve(session, {job.page for job in readable})
            instagram_live = await instagram_live_comments(
                session, [j.comment_id for j in readable if j.public and j.platform == "instagram"]
            )
        planned = [
            (message, self._plan(message, job, tokens, instagram_live))
            for message, job in zip(claimed, jobs, strict=True)
        ]
        for message, _ in planned:
            self._queued[message.partition] += 1
        _log_token_holds(tokens)
        return planned

    def _plan(
        self,
        message: ClaimedMessage,
        job: ReplyJob | MalformedRow,
        tokens: dict[PageKey, TokenState],
        instagram_live: set[str],
    ) -> _Ready | Outcome:
        if isinstance(job, MalformedRow):
            log.error("reply %s cannot be sent: %s", message.id, job)
            return Failed(message.id, f"malformed reply row: {job}")
        if (
            job.public
            and job.platform == "instagram"
            and (job.live_comment or job.comment_id in instagram_live)
        ):
            return Failed(job.message.id, "Instagram live comments cannot be replied to publicly")
        if job.public and message.attempts > 1:
            # A public reply's attempts count only claims whose outcome was never written (a
            # process stopped before writing it): Meta may have posted it, and has no "already
            # replied" to tell.
            log.warning(
                "public reply %s to comment %s: an earlier claim has no recorded outcome; "
                "not sent again",
                message.id,
                job.comment_id,
            )
            return Failed(message.id, UNKNOWN_PUBLIC_OUTCOME)
        state = tokens[job.page]
        if state.held or state.token is None:
            return self._hold_for_token(job)
        if job.lane == "live":
            self._live_pages.add(job.page_id)
        elif job.lane == "standard":
            self._live_pages.discard(job.page_id)
        return _Ready(job, state.token)

    def _hold_for_token(self, job: ReplyJob) -> Release:
        return Release(
            job.message.id,
            self._wall_clock() + self._policy.token_recheck,
            hold_partitions=page_partitions(job.page_id),
            hold_kinds=REPLY_KINDS,
        )

    def _busy_partitions(self) -> list[str]:
        """Partitions not to claim from now: held Pages and Pages with a full queue."""
        now = self._clock()
        busy = {
            partition
            for page_id, pace in self._paces.items()
            if pace.held_until(now) is not None
            for partition in page_partitions(page_id)
        }
        for page_id, until in list(self._redis_waits.items()):
            if until > now:
                busy.update(page_partitions(page_id))
            else:
                del self._redis_waits[page_id]
        for partition, queued in self._queued.items():
            if queued >= self._queue_cap(partition):
                busy.add(partition)
        return sorted(busy)

    def _queue_cap(self, partition: str) -> int:
        """Rows of a partition claimed ahead of their sends: `lookahead` seconds' worth."""
        page_id = page_of_partition(partition)
        lane: Lane = "live" if page_id in self._live_pages else "standard"
        if is_posts_partition(partition):
            lane = "posts"
        rate = self._lanes[lane].rate * self._pace(page_id).factor
        return max(2, math.ceil(rate * self._policy.lookahead))

    # --- sending ----------------------------------------------------------------------------

    async def _handle(self, message: ClaimedMessage, plan: _Ready | Outcome) -> None:
        try:
            outcome = await self._send(plan) if isinstance(plan, _Ready) else plan
        except Exception as error:
            log.exception("reply %s: unexpected failure; it will be retried", message.id)
            outcome = self._retry(message, f"{type(error).__name__}: {error}")
        finally:
            self._queued[message.partition] -= 1
            if self._queued[message.partition] <= 0:
                del self._queued[message.partition]
        try:
            await self._writer.record(outcome)
        except Exception:
            log.exception(
                "could not record the outcome of reply %s; it comes back after its lease",
                message.id,
            )

    async def _send(self, ready: _Ready) -> Outcome:
        job = ready.job
        pace = self._pace(job.page_id)
        # A row whose turn is further off than half its lease goes back to the outbox, to be
        # claimed again, rather than come back to another sender while this one still holds
        # it (a slow lane, a slowed Page).
        deadline = self._clock() + self._policy.lease.total_seconds() / 2
        try:
            allowed = await self._limiter.acquire(
                f"{job.platform}:{job.page_id}:{job.lane}",
                lambda: self._current_pace(job, pace),
                give_up=lambda: (
                    self._must_wait(ready, pace)
                    or self._clock() > deadline
                    or self._waits_for_redis(job.page_id)
                ),
            )
        except BucketsUnavailable as error:
            return self._wait_for_redis(job, error)
        if allowed and self._redis_failing:
            self._redis_failing = False
            log.info("Redis answers for reply paces again: replies go out")
        if not allowed and self._waits_for_redis(job.page_id):
            # Redis was found silent for this account (by this take's turn or one before it):
            # not one more ask of it.
            return self._redis_release(job)
        if not allowed:
            return self._give_back(ready, pace)
        try:
            usage = await self._call(ready)
        except GraphFailure as failure:
            if isinstance(failure, GraphError):
                self._observe(job, pace, failure.usage)
            return self._after_failure(ready, pace, failure)
        self._observe(job, pace, usage)
        pace.succeeded()
        return Sent(job.message.id)

    async def _call(self, ready: _Ready) -> Usage:
        job = ready.job
        if job.public:
            reply = await self._graph.public_reply(
                job.comment_id, ready.token, job.text, platform=job.platform
            )
            return reply.usage
        sent = await self._graph.private_reply(job.page_id, ready.token, job.comment_id, job.text)
        return sent.usage

    def _current_pace(self, job: ReplyJob, pace: PagePace) -> Pace:
        full = self._lanes[job.lane]
        return Pace(full.rate * pace.factor, max(1.0, full.burst * pace.factor))

    def _must_wait(self, ready: _Ready, pace: PagePace) -> bool:
        return (
            self._stopping
            or pace.held_until(self._clock()) is not None
            or self._tokens.is_refused(ready.job.page, ready.token)
        )

    def _wait_for_redis(self, job: ReplyJob, error: BucketsUnavailable) -> Release:
        """Redis did not answer for a reply's pace: this process leaves the account's replies
        for IDLE_AFTER_ERROR (one ask of Redis per account each time), warning once an outage.
        Other processes ask Redis for themselves: their connections may be fine."""
        self._redis_waits[job.page_id] = self._clock() + IDLE_AFTER_ERROR
        if not self._redis_failing:
            self._redis_failing = True
            log.warning(
                "%s; replies wait, each account tried again every %.0f s", error, IDLE_AFTER_ERROR
            )
        return self._redis_release(job)

    def _waits_for_redis(self, page_id: str) -> bool:
        until = self._redis_waits.get(page_id)
        return until is not None and until > self._clock()

    def _redis_release(self, job: ReplyJob) -> Release:
        """Back to the outbox untried, when this process looks at the account again."""
        return Release(job.message.id, self._wall_clock() + timedelta(seconds=IDLE_AFTER_ERROR))

    def _give_back(self, ready: _Ready, pace: PagePace) -> Release:
        """A row that waited for its turn and may not go now: back to the outbox, untried."""
        message = ready.job.message
        if self._tokens.is_refused(ready.job.page, ready.token):
            return Release(message.id, self._wall_clock() + self._policy.token_recheck)
        until = pace.held_until(self._clock())
        return Release(message.id, self._wall_clock() if until is None else self._wall_at(until))

    def _observe(self, job: ReplyJob, pace: PagePace, usage: Usage) -> None:
        percent = _highest(usage.app_percent, usage.business_percent(job.page_id))
        was_held, was_slowed = pace.held_until(self._clock()) is not None, pace.slowed
        pace.observe_usage(percent, usage.regain_after, self._clock())
        held = pace.held_until(self._clock())
        if held is not None and not was_held:
            log.warning(
                "%s %s is at %.0f%% of Meta's limit: held for %.0f s",
                job.platform,
                job.page_id,
                percent or 0,
                held - self._clock(),
            )
        elif pace.slowed != was_slowed:
            log.info(
                "%s %s at %.0f%% of Meta's limit: %s",
                job.platform,
                job.page_id,
                percent or 0,
                "sending at half rate" if pace.slowed else "back to full rate",
            )

    # --- deciding after a failure -----------------------------------------------------------

    def _after_failure(self, ready: _Ready, pace: PagePace, failure: GraphFailure) -> Outcome:
        job = ready.job
        message = job.message
        verdict = judge(failure)
        if verdict is Verdict.THROTTLED:
            return self._throttled(job, pace, failure)
        if verdict is Verdict.ALREADY_SENT:
            log.info("reply %s: comment %s already had its reply", message.id, job.comment_id)
            return Sent(message.id)
        if verdict is Verdict.TOKEN_REFUSED:
            return self._token_refused(ready, failure)
        if verdict is Verdict.PERMISSION:
            log.error(
                "reply %s to comment %s: %s %s lacks a permission; parked: %s",
                message.id,
                job.comment_id,
                job.platform,
                job.page_id,
                failure,
            )
            alert = permission_alert(job.platform, job.page_id, str(failure), self._wall_clock())
            return Dead(message.id, str(failure), alert=alert)
        if verdict is Verdict.TERMINAL:
            log.warning("reply %s to comment %s failed: %s", message.id, job.comment_id, failure)
            return Failed(message.id, str(failure))
        if job.public:
            return self._after_public_failure(message, job, failure)
        if verdict is Verdict.RETRYABLE and not self._too_old(message):
            return self._retry(message, str(failure))
        if (
            verdict is Verdict.UNCLASSIFIED
            and message.attempts < self._policy.unclassified_attempts
        ):
            return self._retry(message, str(failure))
        log.warning(
            "reply %s: giving up after %d attempts: %s", message.id, message.attempts, failure
        )
        return Failed(message.id, f"gave up after {message.attempts} attempts: {failure}")

    def _after_public_failure(
        self, message: ClaimedMessage, job: ReplyJob, failure: GraphFailure
    ) -> Outcome:
        """Meta answers no "already replied" for public replies: sent again, one could show
        twice under the comment (the buyer's private reply is what matters). Only a request
        that never reached Meta is tried again, uncounted; any other failure, a temporary
        error or a 5xx included, may have come after the reply was posted."""
        if isinstance(failure, GraphUnavailable) and not failure.reached:
            if not self._too_old(message):
                return self._retry(message, str(failure), counted=False)
            return Failed(message.id, f"gave up after {self._policy.reply_window}: {failure}")
        log.warning(
            "public reply %s to comment %s may have been posted (%s); not sent again",
            message.id,
            job.comment_id,
            failure,
        )
        return Failed(message.id, f"{failure}; it may have been posted, so not sent again")

    def _throttled(self, job: ReplyJob, pace: PagePace, failure: GraphFailure) -> Release:
        was_held = pace.held_until(self._clock()) is not None
        incidents = pace.throttles_in_a_row
        until = pace.throttled(failure.retry_after, self._clock())
        if not was_held:
            log.warning(
                "%s %s is throttled by Meta (%s): nothing is sent to it for %.0f s",
                job.platform,
                job.page_id,
                failure,
                until - self._clock(),
            )
        # Once per run of throttles: when this answer made it the LASTING_THROTTLES-th.
        lasting = incidents < LASTING_THROTTLES <= pace.throttles_in_a_row
        return Release(
            job.message.id,
            self._wall_at(until),
            hold_partitions=page_partitions(job.page_id),
            hold_kinds=REPLY_KINDS,
            alert=lasting_throttle_alert(
                job.platform,
                job.page_id,
                pace.throttles_in_a_row,
                until - self._clock(),
                self._wall_clock(),
            )
            if lasting
            else None,
        )

    def _token_refused(self, ready: _Ready, failure: GraphFailure) -> Outcome:
        job = ready.job
        if not self._tokens.refuse(job.page, ready.token):
            # Another row already reported this token: this one waits for the renewal.
            return Release(job.message.id, self._wall_clock() + self._policy.token_recheck)
        log.error(
            "%s %s: Meta refused the access token (%s); its replies are held until it is renewed",
            job.platform,
            job.page_id,
            failure,
        )
        now = self._wall_clock()
        return TokenRefused(
            id=job.message.id,
            error=str(failure),
            platform=job.platform,
            page_id=job.page_id,
            alert=token_refused_alert(job.platform, job.page_id, ready.token, str(failure), now),
            hold_partitions=page_partitions(job.page_id),
            hold_kinds=REPLY_KINDS,
            hold_until=now + self._policy.token_recheck,
            counted=not job.public,
        )

    def _retry(self, message: ClaimedMessage, error: str, *, counted: bool = True) -> Retry:
        """Try again later; a retry not `counted` (a public reply Meta surely did not post)
        waits about as long again as the row has waited, its attempts being no measure."""
        now = self._wall_clock()
        retry = self._policy.retry
        wait = (
            retry.delay(message.attempts, self._rng)
            if counted
            else retry.delay_after((now - message.created_at).total_seconds(), self._rng)
        )
        log.info("reply %s: %s; retrying in %.1f s", message.id, error, wait)
        return Retry(message.id, now + timedelta(seconds=wait), error, counted=counted)

    def _too_old(self, message: ClaimedMessage) -> bool:
        return self._wall_clock() - message.created_at > self._policy.reply_window

    # --- helpers ----------------------------------------------------------------------------

    def _pace(self, page_id: str) -> PagePace:
        pace = self._paces.get(page_id)
        if pace is None:
            pace = self._paces[page_id] = PagePace(self._policy.pacing)
        return pace

    def _wall_at(self, monotonic: float) -> datetime:
        return self._wall_clock() + timedelta(seconds=max(0.0, monotonic - self._clock()))


def _log_token_holds(tokens: dict[PageKey, TokenState]) -> None:
    for (platform, page_id), state in sorted(tokens.items()):
        if state.token is None:
            log.warning(
                "%s %s has no access token (pages row or META_PAGE_TOKEN): its replies wait",
                platform,
                page_id,
            )
        elif state.held:
            log.warning(
                "%s %s: its access token was refused by Meta; its replies wait for a new one",
                platform,
                page_id,
            )


def _read(message: ClaimedMessage) -> ReplyJob | MalformedRow:
    try:
        return read_job(message)
    except MalformedRow as problem:
        return problem


def _highest(*values: float | None) -> float | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None

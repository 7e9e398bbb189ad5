"""The pipeline: queued deliveries become stored comments, then processed ones.

A batch of deliveries costs one transaction: its comments are read, the new ones stored already
processed, and acted on. Deduplication is the UNIQUE (platform, comment id, verb) key: a
redelivered event finds its row and changes nothing. A batch that fails stores its comments as
received on their own (so a bug further on can be replayed), then claims and processes them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.lives import follow_platform_status
from bot.processing import CommentProcessor
from bot.runtime import Runtime
from parsers import ParseResult
from storage.comments import (
    CommentKey,
    claim_received,
    mark_failed,
    store_comments,
    store_processed,
)
from storage.db import SessionFactory, WriterTurns, lost_a_race, retrying_races
from storage.lives import LiveIndex, open_lives
from storage.models import JsonObject, Live
from storage.outbox import write_staff_alert
from storage.queue import QueuedDelivery
from storage.types import utcnow
from webhooks.envelope import (
    CommentEvent,
    LiveStatusEvent,
    NotAnEnvelope,
    check_envelope,
    read_delivery,
)

log = logging.getLogger("livecart.pipeline")


@dataclass(frozen=True, slots=True)
class BatchReport:
    deliveries: int
    comment_events: int
    processed: int


class Pipeline:
    @classmethod
    def for_runtime(cls, runtime: Runtime) -> Pipeline:
        processor = CommentProcessor(runtime.settings, runtime.stock, runtime.checkout_secret)
        return cls(
            runtime.sessions,
            processor,
            replay_window=runtime.settings.replay_window,
            writers=runtime.writers,
        )

    def __init__(
        self,
        sessions: SessionFactory,
        processor: CommentProcessor,
        *,
        replay_window: timedelta,
        writers: WriterTurns,
    ) -> None:
        self._sessions = sessions
        self._writers = writers
        self._processor = processor
        self._replay_window = replay_window

    async def handle(self, deliveries: Sequence[QueuedDelivery]) -> BatchReport:
        comments, statuses = _events(deliveries)
        processed = await self.take_in(comments, statuses, source="webhook")
        return BatchReport(len(deliveries), len(comments), processed)

    async def take_in(
        self,
        comments: Sequence[CommentEvent],
        statuses: Sequence[LiveStatusEvent] = (),
        *,
        source: str,
    ) -> int:
        """Store and process new comments; returns how many this call processed.

        New comments are read first and stored already processed, with what they ordered, in
        one transaction. If that fails, the comments are stored as received on their own, so
        nothing is lost, and processed as `process` does (races run again, then one by one)."""
        try:
            processed, stored_before = await self._store_processed(comments, statuses, source)
        except Exception as error:
            what = "a batch of %d comments %s; stored first, then processed"
            if lost_a_race(error):
                log.info(what, len(comments), "lost a race")
            else:
                log.exception(what, len(comments), "failed")
            await self.store(comments, statuses, source=source)
            return await self.process([event.key for event in comments])
        # Comments stored by an earlier try whose processing did not finish.
        return processed + await self.process(stored_before)

    async def _store_processed(
        self,
        comments: Sequence[CommentEvent],
        statuses: Sequence[LiveStatusEvent],
        source: str,
    ) -> tuple[int, list[CommentKey]]:
        async with self._writers.turn(), self._sessions.begin() as session:
            lives = await self._follow(session, statuses)
            now = utcnow()
            rows: list[dict[str, object]] = []
            read: dict[CommentKey, tuple[Live | None, ParseResult | None]] = {}
            for event in comments:
                live = _live_of(event, lives)
                (status, items, reason), result = self._processor.read(event.verb, event.text, live)
                row = _comment_row(event, live, source, now)
                row.update(
                    status="processed",
                    processed_at=now,
                    parse_status=status,
                    parse_items=items,
                    parse_reason=reason,
                )
                rows.append(row)
                read[event.key] = (live, result)
            claimed = await store_processed(session, rows)
            await self._processor.decide(session, [(c, *read[c.key]) for c in claimed], now)
        new = {c.key for c in claimed}
        return len(claimed), [key for key in read if key not in new]

    async def store(
        self,
        comments: Sequence[CommentEvent],
        statuses: Sequence[LiveStatusEvent] = (),
        *,
        source: str,
    ) -> None:
        """Keep every comment as received, on the live it belongs to (one transaction)."""
        async with self._writers.turn(), self._sessions.begin() as session:
            lives = await self._follow(session, statuses)
            now = utcnow()
            rows = [_comment_row(event, _live_of(event, lives), source, now) for event in comments]
            await store_comments(session, rows)

    async def _follow(
        self, session: AsyncSession, statuses: Sequence[LiveStatusEvent]
    ) -> LiveIndex:
        """The open lives, after the live status changes among `statuses`."""
        lives = LiveIndex(await open_lives(session))
        now = utcnow()
        for status in statuses:
            live = lives.by_video(status.platform, status.live_video_id)
            # The replay's 24 hours run from when the broadcast ended, however late Meta's
            # delivery (it retries for hours) or the queue brings the news.
            ended = now if status.changed_at is None else min(now, status.changed_at)
            if live is not None and follow_platform_status(
                live, status.status, ended, self._replay_window
            ):
                log.info("live %d ended on %s (%s)", live.id, status.platform, status.status)
        return lives

    async def alert_staff(self, key: str, payload: JsonObject) -> None:
        """A staff alert (the staff bot sends it), once per key."""
        async with self._writers.turn(), self._sessions.begin() as session:
            await write_staff_alert(session, key, payload)

    async def database_answers(self) -> bool:
        try:
            async with self._sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - whatever the reason, it does not answer
            return False
        return True

    async def process(self, keys: Sequence[CommentKey]) -> int:
        """Process the comments among `keys` that no one has processed yet."""
        if not keys:
            return 0
        try:
            return await self._claim_and_process_racing(keys)
        except Exception:
            log.exception("processing a batch of %d comments failed; isolating", len(keys))
        return sum([await self._process_alone(key) for key in keys])

    async def _process_alone(self, key: CommentKey) -> int:
        try:
            return await self._claim_and_process_racing([key])
        except Exception as error:
            log.exception("comment %s could not be processed; kept for `livecart replay`", key[1])
            async with self._writers.turn(), self._sessions.begin() as session:
                await mark_failed(session, key, f"{type(error).__name__}: {error}")
            return 0

    async def _claim_and_process_racing(self, keys: Sequence[CommentKey]) -> int:
        """`_claim_and_process`, run again while it loses races with concurrent batches (a
        deadlock, or both opening one buyer's cart): it rolled back whole, and stock takes are
        keyed by comment, so running it again takes nothing twice."""
        return await retrying_races(
            lambda: self._claim_and_process(keys), f"a batch of {len(keys)} comment(s)"
        )

    async def _claim_and_process(self, keys: Sequence[CommentKey]) -> int:
        """One transaction: claim the unprocessed comments among `keys` and process them."""
        async with self._writers.turn(), self._sessions.begin() as session:
            claimed = await claim_received(session, keys)
            await self._processor.process(session, claimed)
            return len(claimed)


def _events(
    deliveries: Sequence[QueuedDelivery],
) -> tuple[list[CommentEvent], list[LiveStatusEvent]]:
    comments: list[CommentEvent] = []
    statuses: list[LiveStatusEvent] = []
    for queued in deliveries:
        try:
            delivery = read_delivery(check_envelope(orjson.loads(queued.body)))
        except (orjson.JSONDecodeError, NotAnEnvelope) as problem:
            log.warning("queued delivery %s is unreadable and was dropped: %s", queued.id, problem)
            continue
        for ignored in delivery.ignored:
            log.info("ignored in delivery %s: %s", queued.id, ignored)
        comments.extend(
            event._replace(received_at=queued.received_at) for event in delivery.comments
        )
        statuses.extend(delivery.statuses)
    return comments, statuses


def _live_of(event: CommentEvent, lives: LiveIndex) -> Live | None:
    return lives.find(
        event.platform, post_id=event.post_id, media_id=event.media_id, comment_id=event.comment_id
    )


def _comment_row(
    event: CommentEvent, live: Live | None, source: str, now: datetime
) -> dict[str, object]:
    row: dict[str, object] = event._asdict()
    row["received_at"] = event.received_at or now
    row["live_id"] = live.id if live else None
    row["source"] = source
    return row

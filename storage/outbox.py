"""The outbox: rows written with the change that caused them, claimed and sent afterwards.

A claim leases rows by moving `available_at` past the lease, so several processes never send the
same row at once and a crashed sender's rows come back by themselves when the lease runs out.
Outcomes are written in groups (one statement per kind of outcome), never row by row.

Alongside: the few reads and writes of `pages` a sender needs (its token, a refused token), and
staff alerts, which are outbox rows too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Table, Text, bindparam, case, exists, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.db import chunked, dialect_of, insert_ignoring_duplicates, insert_rows
from storage.models import Comment, JsonObject, OutboxMessage, Page
from storage.types import utcnow

PENDING, SENT, FAILED, DEAD = "pending", "sent", "failed", "dead"
REPLY, PUBLIC_REPLY, STORE_EVENT = "reply", "public_reply", "store_event"
STAFF_ALERT, STAFF_REVIEW = "staff_alert", "staff_review"
KINDS = (REPLY, PUBLIC_REPLY, STORE_EVENT, STAFF_ALERT, STAFF_REVIEW)
STATUSES = (PENDING, SENT, FAILED, DEAD)
STAFF_PARTITION = "staff"
_CHUNK = 500
_ERROR_LENGTH = 2000
_TABLE: Table = OutboxMessage.__table__  # type: ignore[assignment]
# PostgreSQL draws an id when a row is inserted, but transactions commit in any order: a reader
# paging by id could pass event 11 while event 10's transaction is still open, and never see 10.
# Writers of store events hold this advisory lock shared from before their ids are drawn until
# they commit (writers never wait for each other); the reader takes it exclusively, so it reads
# once every id drawn before it is committed or rolled back. SQLite has one writer at a time.
EVENT_IDS_LOCK = int.from_bytes(b"lcevents", "big")
EVENTS_READ_WAIT = timedelta(seconds=10)
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's lock_timeout ran out


class EventsBusy(RuntimeError):
    """Store events being written kept the reader waiting too long."""


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A row leased to one sender until `available_at` (the lease) passes."""

    id: int
    kind: str
    key: str
    partition: str
    payload: JsonObject
    attempts: int  # including this claim
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Reschedule:
    """Try the row again at `at`; `error` says why (None keeps the last one)."""

    id: int
    at: datetime
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A row that will not be sent (failed, or parked dead), and why."""

    id: int
    error: str


@dataclass(frozen=True, slots=True)
class StoreEvent:
    id: int
    event: str
    order_id: int
    occurred_at: datetime
    data: JsonObject


@dataclass(frozen=True, slots=True)
class PageToken:
    access_token: str | None
    token_invalid_at: datetime | None


# --- claiming ------------------------------------------------------------------------------


async def claim_due(
    session: AsyncSession,
    kinds: Sequence[str],
    *,
    limit: int,
    lease: timedelta,
    now: datetime | None = None,
    skip_partitions: Iterable[str] = (),
    first_of_partition: bool = False,
    partitions_ending: tuple[str, bool] | None = None,
) -> list[ClaimedMessage]:
    """Lease up to `limit` due rows of `kinds`, oldest first.

    `first_of_partition`: only the lowest pending id of each partition is due, so a later row of
    a partition never overtakes an earlier one (it waits while the earlier one is leased or
    backing off). `skip_partitions`: partitions the caller cannot take more of right now.
    `partitions_ending`: (ending, True) only rows of partitions whose name ends so; (ending,
    False) only the others.
    """
    now = now or utcnow()
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == PENDING,
            OutboxMessage.available_at <= now,
            OutboxMessage.kind.in_(kinds),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    skipped = list(skip_partitions)
    if skipped:
        due = due.where(OutboxMessage.partition.not_in(skipped))
    if partitions_ending is not None:
        ending, wanted = partitions_ending
        ends = OutboxMessage.partition.endswith(ending, autoescape=True)
        due = due.where(ends if wanted else ~ends)
    if first_of_partition:
        earlier = aliased(OutboxMessage)
        due = due.where(
            ~exists().where(
                earlier.partition == OutboxMessage.partition,
                earlier.status == PENDING,
                earlier.id < OutboxMessage.id,
            )
        )
    if dialect_of(session) == "postgresql":
        # Concurrent claimers skip each other's rows instead of queueing behind them.
        due = due.with_for_update(skip_locked=True, of=OutboxMessage)
    rows = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due.scalar_subquery()))
        .values(available_at=now + lease, attempts=OutboxMessage.attempts + 1)
        .returning(
            OutboxMessage.id,
            OutboxMessage.kind,
            OutboxMessage.key,
            OutboxMessage.partition,
            OutboxMessage.payload,
            OutboxMessage.attempts,
            OutboxMessage.created_at,
        )
    )
    claimed = [ClaimedMessage(*row) for row in rows.all()]
    claimed.sort(key=lambda message: message.id)
    return claimed


# --- outcomes ------------------------------------------------------------------------------


async def mark_sent(
    session: AsyncSession, ids: Sequence[int], *, now: datetime | None = None
) -> None:
    now = now or utcnow()
    for chunk in chunked(ids, _CHUNK):
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(chunk), OutboxMessage.status == PENDING)
            .values(status=SENT, sent_at=now)
        )


async def retry_later(session: AsyncSession, retries: Sequence[Reschedule]) -> None:
    """The attempt failed: try again at each row's `at` (the claim counted the attempt)."""
    await _executemany(
        session,
        update(_TABLE)
        .where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.status == PENDING)
        .values(
            available_at=bindparam("b_at"),
            last_error=func.coalesce(bindparam("b_error", type_=Text), _TABLE.c.last_error),
        ),
        [{"b_id": r.id, "b_at": r.at, "b_error": _clip(r.error)} for r in retries],
    )


async def release(session: AsyncSession, releases: Sequence[Reschedule]) -> None:
    """Give claimed rows back (untried: a held Page, a shutdown; or tried and not to be
    counted, with its `error`): the claim is not counted as an attempt."""
    attempts = _TABLE.c.attempts
    await _executemany(
        session,
        update(_TABLE)
        .where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.status == PENDING)
        .values(
            available_at=bindparam("b_at"),
            attempts=case((attempts > 0, attempts - 1), else_=0),
            last_error=func.coalesce(bindparam("b_error", type_=Text), _TABLE.c.last_error),
        ),
        [{"b_id": r.id, "b_at": r.at, "b_error": _clip(r.error)} for r in releases],
    )


async def extend_lease(
    session: AsyncSession, message_id: int, held_until: datetime, until: datetime
) -> bool:
    """Keep a claimed row until `until`, if the lease that ends at `held_until` is still the
    caller's (no one claimed the row since, nothing closed it); returns whether it was."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == PENDING,
            OutboxMessage.available_at == held_until,
        )
        .values(available_at=until)
    )
    return _rowcount(result) == 1


async def mark_failed(session: AsyncSession, refusals: Sequence[Refusal]) -> None:
    """Terminal: never retried."""
    await _close(session, refusals, FAILED)


async def mark_dead(session: AsyncSession, refusals: Sequence[Refusal]) -> None:
    """Parked: kept for `retry_dead` once someone has fixed the cause."""
    await _close(session, refusals, DEAD)


async def defer_partition(
    session: AsyncSession, partition: str, until: datetime, *, kinds: Sequence[str]
) -> int:
    """Push every pending row of a partition to `until` (a held Page, seen by every process)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.partition == partition,
            OutboxMessage.kind.in_(kinds),
            OutboxMessage.status == PENDING,
            OutboxMessage.available_at < until,
        )
        .values(available_at=until)
    )
    return _rowcount(result)


async def retry_dead(
    session: AsyncSession, kinds: Sequence[str] | None = None, *, now: datetime | None = None
) -> int:
    """Dead rows become pending again, due now, with a fresh attempt count; returns how many."""
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.status == DEAD)
        .values(status=PENDING, available_at=now or utcnow(), attempts=0)
    )
    if kinds is not None:
        statement = statement.where(OutboxMessage.kind.in_(kinds))
    return _rowcount(await session.execute(statement))


# --- reading -------------------------------------------------------------------------------


async def events_after(
    session: AsyncSession, after_id: int, limit: int, *, wait: timedelta = EVENTS_READ_WAIT
) -> list[StoreEvent]:
    """Store events with an id above `after_id`, in id order, whatever their push status; none
    is ever passed over by a later read (see EVENT_IDS_LOCK). EventsBusy after `wait`."""
    if dialect_of(session) == "postgresql":
        milliseconds = max(1, int(wait.total_seconds() * 1000))
        await session.execute(text(f"SET LOCAL lock_timeout = {milliseconds}"))
        try:
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_IDS_LOCK}
            )
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                raise
            raise EventsBusy("order events are being written; ask again in a moment") from error
    rows = await session.execute(
        select(OutboxMessage.id, OutboxMessage.payload, OutboxMessage.created_at)
        .where(OutboxMessage.kind == STORE_EVENT, OutboxMessage.id > after_id)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    return [_store_event(row_id, payload, created) for row_id, payload, created in rows.all()]


async def counts(session: AsyncSession) -> dict[tuple[str, str], int]:
    """How many rows there are per (kind, status)."""
    rows = await session.execute(
        select(OutboxMessage.kind, OutboxMessage.status, func.count()).group_by(
            OutboxMessage.kind, OutboxMessage.status
        )
    )
    return {(kind, status): int(count) for kind, status, count in rows.all()}


# --- staff alerts --------------------------------------------------------------------------


class Outgoing(NamedTuple):
    kind: str
    key: str
    partition: str
    payload: JsonObject


async def add_outbox(session: AsyncSession, messages: Sequence[Outgoing]) -> None:
    """A message whose key is already in the outbox is not written again. On PostgreSQL, store
    events hold EVENT_IDS_LOCK until the transaction ends: write them last."""
    if dialect_of(session) == "postgresql" and any(m.kind == STORE_EVENT for m in messages):
        await session.execute(
            text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": EVENT_IDS_LOCK}
        )
    now = utcnow()
    await insert_rows(
        session,
        _TABLE,
        [
            {
                "kind": m.kind,
                "key": m.key,
                "partition": m.partition,
                "payload": m.payload,
            }
            for m in messages
        ],
        shared={"status": PENDING, "attempts": 0, "available_at": now, "created_at": now},
        skip_duplicates=True,
    )


async def write_staff_alert(session: AsyncSession, key: str, payload: JsonObject) -> bool:
    """Insert the alert unless one with this key exists; True when this call wrote it."""
    statement = insert_ignoring_duplicates(dialect_of(session), OutboxMessage).values(
        kind=STAFF_ALERT,
        key=key,
        partition=STAFF_PARTITION,
        payload=payload,
        status=PENDING,
        attempts=0,
        available_at=utcnow(),
        created_at=utcnow(),
    )
    return _rowcount(await session.execute(statement)) > 0


async def latest_staff_alert(session: AsyncSession, key_prefix: str) -> JsonObject | None:
    """The payload of the newest alert whose key starts with `key_prefix`."""
    payload: JsonObject | None = await session.scalar(
        select(OutboxMessage.payload)
        .where(OutboxMessage.kind == STAFF_ALERT, OutboxMessage.key.startswith(key_prefix))
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    return payload


# --- pages: tokens and refused tokens ------------------------------------------------------


async def page_tokens(
    session: AsyncSession, pages: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], PageToken]:
    """The stored token and refusal time of each (platform, page id) that has a pages row."""
    found: dict[tuple[str, str], PageToken] = {}
    page_ids = sorted({page_id for _, page_id in pages})
    for chunk in chunked(page_ids, _CHUNK):
        rows = await session.execute(
            select(Page.platform, Page.page_id, Page.access_token, Page.token_invalid_at).where(
                Page.page_id.in_(chunk)
            )
        )
        for platform, page_id, token, invalid_at in rows.all():
            found[(platform, page_id)] = PageToken(token, invalid_at)
    return found


async def mark_token_invalid(
    session: AsyncSession, platform: str, page_id: str, *, now: datetime | None = None
) -> None:
    """Record when Meta refused the Page's token (the first refusal of an incident is kept).

    A Page that runs on META_PAGE_TOKEN may have no row yet: one is made to carry the mark.
    """
    now = now or utcnow()
    await session.execute(
        insert_ignoring_duplicates(dialect_of(session), Page).values(
            platform=platform, page_id=page_id, language="zh-Hant", created_at=now
        )
    )
    await session.execute(
        update(Page)
        .where(Page.platform == platform, Page.page_id == page_id, Page.token_invalid_at.is_(None))
        .values(token_invalid_at=now)
    )


async def clear_token_invalid(session: AsyncSession, platform: str, page_id: str) -> None:
    await session.execute(
        update(Page)
        .where(Page.platform == platform, Page.page_id == page_id)
        .values(token_invalid_at=None)
    )


async def instagram_live_comments(session: AsyncSession, comment_ids: Iterable[str]) -> set[str]:
    """Those of `comment_ids` stored as Instagram live comments (they take no public reply)."""
    found: set[str] = set()
    for chunk in chunked(sorted(set(comment_ids)), _CHUNK):
        rows = await session.scalars(
            select(Comment.comment_id).where(
                Comment.platform == "instagram",
                Comment.field == "live_comments",
                Comment.comment_id.in_(chunk),
            )
        )
        found.update(rows.all())
    return found


# --- helpers -------------------------------------------------------------------------------


async def _close(session: AsyncSession, refusals: Sequence[Refusal], status: str) -> None:
    await _executemany(
        session,
        update(_TABLE)
        .where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.status == PENDING)
        .values(status=status, last_error=bindparam("b_error")),
        [{"b_id": r.id, "b_error": _clip(r.error)} for r in refusals],
    )


async def _executemany(
    session: AsyncSession, statement: Any, params: Sequence[Mapping[str, object]]
) -> None:
    """One statement for many rows (executemany), in chunks."""
    for chunk in chunked(params, _CHUNK):
        await session.execute(statement, list(chunk))


def _store_event(row_id: int, payload: JsonObject, created_at: datetime) -> StoreEvent:
    order_id, data = payload.get("order_id"), payload.get("data")
    return StoreEvent(
        id=row_id,
        event=str(payload.get("event", "")),
        order_id=order_id if isinstance(order_id, int) else 0,
        occurred_at=created_at,
        data=data if isinstance(data, dict) else {},
    )


def _clip(error: str | None) -> str | None:
    return None if error is None else error[:_ERROR_LENGTH]


def _rowcount(result: object) -> int:
    count = getattr(result, "rowcount", 0)
    return int(count) if isinstance(count, int) and count > 0 else 0

"""storage/outbox.py on SQLite and PostgreSQL: leases, per-partition order, outcomes, reads."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.dispatch.reply_jobs import POSTS_PARTITION_ENDING
from storage.db import SessionFactory, create_engine, session_factory
from storage.models import Page
from storage.outbox import (
    Refusal,
    Reschedule,
    claim_due,
    counts,
    events_after,
    extend_lease,
    mark_dead,
    mark_failed,
    mark_sent,
    mark_token_invalid,
    release,
    retry_dead,
    retry_later,
    write_staff_alert,
)
from storage.types import utcnow
from tests.dispatch.support import IG, PAGE, add_replies, add_store_events, rows

LEASE = timedelta(seconds=60)


async def claim(
    sessions: SessionFactory,
    kinds: tuple[str, ...] = ("reply",),
    *,
    limit: int = 100,
    lease: timedelta = LEASE,
    ordered: bool = False,
) -> list[int]:
    async with sessions.begin() as session:
        claimed = await claim_due(
            session, kinds, limit=limit, lease=lease, first_of_partition=ordered
        )
    return [message.id for message in claimed]


async def test_concurrent_claimers_never_share_a_row(
    sessions: SessionFactory, database_url: str
) -> None:
    await add_replies(sessions, PAGE, [f"c{n}" for n in range(300)])
    # Six "processes", each with an engine of its own, claiming at once until nothing is left.
    engines = [create_engine(database_url) for _ in range(6)]

    async def claimer(factory: SessionFactory) -> list[int]:
        mine: list[int] = []
        while batch := await claim(factory, limit=17):
            mine.extend(batch)
        return mine

    try:
        taken = await asyncio.gather(*(claimer(session_factory(e)) for e in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    everything = [row_id for batch in taken for row_id in batch]
    assert len(everything) == 300
    assert len(set(everything)) == 300
    assert sum(1 for batch in taken if batch) > 1  # the claimers really did run side by side


async def test_instagram_post_replies_are_claimed_apart_from_the_rest(
    sessions: SessionFactory,
) -> None:
    await add_replies(sessions, IG, ["post_1", "post_2", "post_3"], platform="instagram")
    await add_replies(sessions, IG, ["live_1", "live_2"], platform="instagram", live_comment=True)
    await add_replies(sessions, PAGE, ["fb_1", "fb_2"])
    by_comment = {row.payload["comment_id"]: row.id for row in await rows(sessions)}

    async def claim_replies(posts: bool, limit: int = 100) -> list[int]:
        async with sessions.begin() as session:
            claimed = await claim_due(
                session,
                ("reply",),
                limit=limit,
                lease=LEASE,
                partitions_ending=(POSTS_PARTITION_ENDING, posts),
            )
        return [message.id for message in claimed]

    assert await claim_replies(posts=False) == [
        by_comment[c] for c in ("live_1", "live_2", "fb_1", "fb_2")
    ]
    assert await claim_replies(posts=True, limit=2) == [by_comment["post_1"], by_comment["post_2"]]
    assert await claim_replies(posts=False) == []
    assert await claim_replies(posts=True) == [by_comment["post_3"]]


async def test_a_lease_hides_a_row_until_it_runs_out(sessions: SessionFactory) -> None:
    await add_replies(sessions, PAGE, ["c1"])
    (first,) = await claim(sessions, lease=timedelta(milliseconds=300))
    assert await claim(sessions) == []
    await asyncio.sleep(0.35)
    assert await claim(sessions) == [first]
    (row,) = await rows(sessions)
    assert row.attempts == 2


async def test_release_gives_a_row_back_without_counting_an_attempt(
    sessions: SessionFactory,
) -> None:
    await add_replies(sessions, PAGE, ["c1", "c2"])
    ids = await claim(sessions)
    soon = utcnow() + timedelta(milliseconds=200)
    async with sessions.begin() as session:
        await release(session, [Reschedule(row_id, soon) for row_id in ids])
    assert all(row.attempts == 0 for row in await rows(sessions))
    assert await claim(sessions) == []
    await asyncio.sleep(0.25)
    assert await claim(sessions) == ids


async def test_a_lease_is_extended_only_while_it_is_still_the_callers(
    sessions: SessionFactory,
) -> None:
    await add_replies(sessions, PAGE, ["c1"])
    now = utcnow()
    short = timedelta(milliseconds=300)
    async with sessions.begin() as session:
        (message,) = await claim_due(session, ("reply",), limit=1, lease=short, now=now)
    held_until, later = now + short, now + timedelta(seconds=60)
    async with sessions.begin() as session:
        assert await extend_lease(session, message.id, held_until, later)
    await asyncio.sleep(0.35)
    assert await claim(sessions) == []  # the first lease would have run out by now
    # Another claimer's lease (the row came back to it): the first can no longer extend.
    async with sessions.begin() as session:
        await release(session, [Reschedule(message.id, utcnow())])
    assert await claim(sessions) == [message.id]
    async with sessions.begin() as session:
        assert not await extend_lease(session, message.id, later, later + LEASE)
        await mark_sent(session, [message.id])
    (row,) = await rows(sessions)
    assert row.status == "sent"


async def test_retry_later_keeps_the_attempt_and_the_reason(sessions: SessionFactory) -> None:
    await add_replies(sessions, PAGE, ["c1"])
    (row_id,) = await claim(sessions)
    async with sessions.begin() as session:
        await retry_later(session, [Reschedule(row_id, utcnow() + timedelta(hours=1), "boom")])
    (row,) = await rows(sessions)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "boom")
    assert row.available_at > utcnow() + timedelta(minutes=59)
    assert await claim(sessions) == []


async def test_outcomes_in_groups(sessions: SessionFactory) -> None:
    await add_replies(sessions, PAGE, ["a", "b", "c", "d"])
    a, b, c, d = await claim(sessions)
    async with sessions.begin() as session:
        await mark_sent(session, [a])
        await mark_failed(session, [Refusal(b, "no"), Refusal(c, "never")])
        await mark_dead(session, [Refusal(d, "parked")])
    found = {row.id: (row.status, row.last_error) for row in await rows(sessions)}
    assert found == {
        a: ("sent", None),
        b: ("failed", "no"),
        c: ("failed", "never"),
        d: ("dead", "parked"),
    }
    (sent,) = [row for row in await rows(sessions) if row.id == a]
    assert sent.sent_at is not None


async def test_only_the_oldest_pending_event_of_an_order_is_claimable(
    sessions: SessionFactory,
) -> None:
    ids = await add_store_events(
        sessions, [(1, "order.reserved"), (2, "order.reserved"), (1, "order.updated")]
    )
    first = await claim(sessions, ("store_event",), ordered=True)
    assert first == [ids[0], ids[1]]  # order 1's update waits behind its reservation
    async with sessions.begin() as session:
        await retry_later(session, [Reschedule(ids[0], utcnow(), "store down")])
    # Backing off (or leased), the reservation still holds its order's later event back.
    assert await claim(sessions, ("store_event",), ordered=True) == [ids[0]]
    async with sessions.begin() as session:
        await mark_sent(session, [ids[0]])
    assert await claim(sessions, ("store_event",), ordered=True) == [ids[2]]


async def test_retry_dead_revives_only_the_kinds_asked(sessions: SessionFactory) -> None:
    await add_replies(sessions, PAGE, ["a"])
    await add_store_events(sessions, [(1, "order.reserved")])
    ids = await claim(sessions, ("reply", "store_event"))
    async with sessions.begin() as session:
        await mark_dead(session, [Refusal(row_id, "parked") for row_id in ids])
        assert await retry_dead(session, ("store_event",)) == 1
        assert await retry_dead(session) == 1
        assert await retry_dead(session) == 0
    assert {(row.status, row.attempts) for row in await rows(sessions)} == {("pending", 0)}


async def test_events_after_pages_through_store_events_only(sessions: SessionFactory) -> None:
    await add_replies(sessions, PAGE, ["a"])
    ids = await add_store_events(sessions, [(7, "order.reserved"), (7, "order.confirmed")])
    async with sessions() as session:
        first = await events_after(session, 0, 1)
        rest = await events_after(session, first[-1].id, 10)
        none = await events_after(session, rest[-1].id, 10)
    assert [e.id for e in first + rest] == ids
    assert [(e.event, e.order_id) for e in first + rest] == [
        ("order.reserved", 7),
        ("order.confirmed", 7),
    ]
    assert first[0].data == {"n": 0, "total": "12.50"}
    assert first[0].occurred_at.tzinfo is not None
    assert none == []


async def test_counts_per_kind_and_status(sessions: SessionFactory) -> None:
    await add_replies(sessions, PAGE, ["a", "b"])
    await add_store_events(sessions, [(1, "order.reserved")])
    (a, _b) = await claim(sessions)
    async with sessions.begin() as session:
        await mark_sent(session, [a])
    async with sessions() as session:
        assert await counts(session) == {
            ("reply", "sent"): 1,
            ("reply", "pending"): 1,
            ("store_event", "pending"): 1,
        }


async def test_a_staff_alert_is_written_once_per_key(sessions: SessionFactory) -> None:
    async with sessions.begin() as session:
        assert await write_staff_alert(session, "alert:x:1", {"alert": "x", "text": "t"})
        assert not await write_staff_alert(session, "alert:x:1", {"alert": "x", "text": "t2"})
    (alert,) = await rows(sessions, "staff_alert")
    assert (alert.partition, alert.status, alert.payload["text"]) == ("staff", "pending", "t")


async def test_a_refused_token_marks_the_page_even_without_a_row(
    sessions: SessionFactory,
) -> None:
    async with sessions.begin() as session:
        await mark_token_invalid(session, "facebook", PAGE)
    async with sessions() as session:
        page = await session.scalar(select(Page).where(Page.page_id == PAGE))
    assert page is not None and page.token_invalid_at is not None and page.access_token is None
    first = page.token_invalid_at
    async with sessions.begin() as session:
        await mark_token_invalid(session, "facebook", PAGE)
    async with sessions() as session:
        again = await session.scalar(select(Page.token_invalid_at).where(Page.page_id == PAGE))
    assert again == first  # the incident's first refusal is kept

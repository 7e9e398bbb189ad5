"""A stored comment is claimed by one batch only, even when two batches ask at once, and the
claiming transaction records it processed with its reading; a new comment can be stored already
processed, claimed by the transaction that stores it (SQLite and PostgreSQL)."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from storage.comments import (
    ClaimedComment,
    claim_received,
    record_readings,
    store_comments,
    store_processed,
)
from storage.db import SessionFactory, create_engine, session_factory
from storage.models import Comment

KEYS = [("facebook", f"c{n}", "add") for n in range(3)]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    async with session_factory(engine).begin() as session:
        await store_comments(
            session,
            [
                {"platform": p, "comment_id": c, "verb": v, "field": "feed", "page_id": "p1"}
                for p, c, v in KEYS
            ],
        )
    yield session_factory(engine)
    await engine.dispose()


async def test_two_batches_claiming_at_once_split_nothing_and_double_nothing(
    sessions: SessionFactory,
) -> None:
    first_holds = asyncio.Event()

    async def batch(first: bool) -> list[ClaimedComment]:
        if not first:
            await first_holds.wait()
        async with sessions.begin() as session:
            claimed = await claim_received(session, KEYS)
            if first:
                first_holds.set()
                await asyncio.sleep(0.3)  # the other batch asks meanwhile
            await record_readings(session, [(c.id, "none", [], "chatter") for c in claimed])
        return claimed

    first, second = await asyncio.gather(batch(True), batch(False))
    assert [c.comment_id for c in first] == ["c0", "c1", "c2"]
    assert second == []
    async with sessions() as session:
        rows = (await session.execute(select(Comment.status, Comment.parse_reason))).all()
    assert [tuple(row) for row in rows] == [("processed", "chatter")] * 3


async def test_a_claim_rolled_back_leaves_the_comments_to_the_next_batch(
    sessions: SessionFactory,
) -> None:
    with pytest.raises(RuntimeError):
        async with sessions.begin() as session:
            assert len(await claim_received(session, KEYS)) == 3
            raise RuntimeError("the batch failed")
    async with sessions.begin() as session:
        again = await claim_received(session, KEYS[:2])
        await record_readings(session, [(c.id, "none", [], None) for c in again])
    assert [c.comment_id for c in again] == ["c0", "c1"]
    async with sessions() as session:
        statuses = await session.scalars(select(Comment.status).order_by(Comment.comment_id))
        assert list(statuses) == ["processed", "processed", "received"]


async def test_new_comments_stored_processed_are_claimed_and_a_stored_one_is_left_alone(
    sessions: SessionFactory,
) -> None:
    def row(comment_id: str, reason: str) -> dict[str, object]:
        return {
            "platform": "facebook",
            "comment_id": comment_id,
            "verb": "add",
            "field": "feed",
            "page_id": "p1",
            "text": f"text of {comment_id}",
            "status": "processed",
            "parse_status": "none",
            "parse_items": [],
            "parse_reason": reason,
        }

    async with sessions.begin() as session:
        claimed = await store_processed(
            session, [row("c4", "new"), row("c1", "again"), row("c3", "new")]
        )
    assert [(c.comment_id, c.text) for c in claimed] == [("c4", "text of c4"), ("c3", "text of c3")]
    assert claimed[0].id < claimed[1].id
    async with sessions() as session:
        rows = await session.execute(
            select(Comment.comment_id, Comment.status, Comment.parse_reason).order_by(Comment.id)
        )
        assert [tuple(r) for r in rows] == [
            ("c0", "received", None),
            ("c1", "received", None),
            ("c2", "received", None),
            ("c4", "processed", "new"),
            ("c3", "processed", "new"),
        ]

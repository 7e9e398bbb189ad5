"""A stored comment is claimed by one batch only, even when two batches ask at once, and the
claiming transaction records it processed with its reading (SQLite and PostgreSQL)."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from storage.comments import ClaimedComment, claim_received, record_readings, store_comments
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

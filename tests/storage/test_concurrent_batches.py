"""Concurrent batches (several workers, several processes) on one PostgreSQL database: they
touch the same buyers in different orders, and none deadlocks the other. (SQLite runs one
writer at a time, so its batches never interleave.)"""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError

from storage.db import SessionFactory, create_engine, lost_a_race, session_factory
from storage.members import IdentityKey, ensure_buyers
from storage.models import Identity, Member, Sku
from storage.types import utcnow


@pytest.fixture
async def sessions(postgres_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(postgres_url)
    yield session_factory(engine)
    await engine.dispose()


async def test_new_buyers_met_in_opposite_orders_do_not_deadlock(sessions: SessionFactory) -> None:
    people: list[tuple[IdentityKey, str | None]] = [
        (("facebook", "p1", f"viewer-{n}"), f"Viewer {n}") for n in range(400)
    ]
    everyone = {key for key, _ in people}

    async def batch(order: list[tuple[IdentityKey, str | None]]) -> set[int]:
        async with sessions.begin() as session:
            buyers = await ensure_buyers(session, order)
        assert set(buyers) == everyone
        return {buyer.member_id for buyer in buyers.values()}

    for _ in range(3):
        first, second = await asyncio.gather(batch(people), batch(people[::-1]))
        assert first == second  # both batches see the one member each identity belongs to
    async with sessions() as session:
        # The batch that lost a race for an identity kept no member of its own for it.
        members = await session.scalar(select(func.count()).select_from(Member))
    assert members == len(people)


async def test_losing_a_race_is_told_apart_from_other_database_errors(
    sessions: SessionFactory,
) -> None:
    async with sessions.begin() as session:
        await ensure_buyers(session, [(("facebook", "p1", "amy"), "Amy")])
    duplicate = insert(Identity).values(
        member_id=select(Identity.member_id).scalar_subquery(),
        platform="facebook",
        page_id="p1",
        scoped_id="amy",
        created_at=utcnow(),
    )
    with pytest.raises(DBAPIError) as unique_violation:
        async with sessions.begin() as session:
            await session.execute(duplicate)
    assert lost_a_race(unique_violation.value)
    with pytest.raises(DBAPIError) as check_violation:
        async with sessions.begin() as session:
            await session.execute(insert(Sku).values(sku="X", name="x", on_hand=-5))
    assert not lost_a_race(check_violation.value)

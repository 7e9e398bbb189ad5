"""Concurrent batches (several workers, several processes) on one PostgreSQL database: they
touch the same buyers in different orders, and none deadlocks the other. (SQLite runs one
writer at a time, so its batches never interleave.)"""

import asyncio
from collections.abc import AsyncIterator

import pytest

from storage.db import SessionFactory, create_engine, session_factory
from storage.members import IdentityKey, ensure_buyers
from tests.conftest import PostgresDatabases


@pytest.fixture
def postgres_url(postgres: PostgresDatabases) -> str:
    return postgres.create(migrated=True)


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

"""A migrated database (SQLite and PostgreSQL), the fake Graph API on a real port with three
accounts, and the real GraphClient talking to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.fakes.graph_api import FakeGraph
from bot.graph import GraphClient
from storage.db import SessionFactory, create_engine, session_factory
from tests.dispatch.support import (
    APP_SECRET,
    IG,
    IG_TOKEN,
    OTHER_PAGE,
    OTHER_TOKEN,
    PAGE,
    TOKEN,
    add_page,
)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def pages(sessions: SessionFactory) -> None:
    """The three accounts' tokens stored as the staff would store them."""
    await add_page(sessions, PAGE, TOKEN)
    await add_page(sessions, OTHER_PAGE, OTHER_TOKEN)
    await add_page(sessions, IG, IG_TOKEN, platform="instagram")


@pytest.fixture
async def fake() -> AsyncIterator[FakeGraph]:
    async with FakeGraph.running(app_secret=APP_SECRET) as graph:
        graph.add_page(PAGE, TOKEN)
        graph.add_page(OTHER_PAGE, OTHER_TOKEN)
        graph.add_page(IG, IG_TOKEN, platform="instagram")
        yield graph


@pytest.fixture
def graph(fake: FakeGraph, http: aiohttp.ClientSession) -> GraphClient:
    return GraphClient(http, base_url=fake.url, version="v25.0", app_secret=APP_SECRET)

"""The real GraphClient against the real fake Graph API on a real port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.fakes.graph_api import FakeGraph
from bot.graph import GraphClient
from tests.graph.support import APP_SECRET, running_fake


@pytest.fixture
async def fake() -> AsyncIterator[FakeGraph]:
    async with running_fake() as graph:
        yield graph


@pytest.fixture
def client(fake: FakeGraph, http: aiohttp.ClientSession) -> GraphClient:
    return GraphClient(http, base_url=fake.url, version="v25.0", app_secret=APP_SECRET)

"""Lives end to end: the real app, the real pipeline, the real Graph client against the fake."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from bot.fakes.graph_api import FakeGraph
from bot.graph import GraphClient
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from tests.conftest import APP_SECRET
from tests.lives.support import LIVE_VIDEO, PAGE, TOKEN, VIDEO, Client, app_client

REPLAY_WINDOW = timedelta(seconds=2)


@pytest.fixture
async def short_runtime(runtime_settings: Settings) -> AsyncIterator[Runtime]:
    """The runtime with a replay window of seconds, so a test sees it close."""
    settings = dataclasses.replace(runtime_settings, replay_window=REPLAY_WINDOW)
    async with open_runtime(settings, migrate=False) as opened:
        yield opened


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[Client]:
    async with app_client(runtime) as test_client:
        yield test_client


@pytest.fixture
async def fake() -> AsyncIterator[FakeGraph]:
    """The fake Graph API with the shop's Page and its live video (the runtime's app secret)."""
    async with FakeGraph.running(app_secret=APP_SECRET) as graph:
        graph.add_page(PAGE, TOKEN)
        graph.add_live_video(LIVE_VIDEO, PAGE, VIDEO)
        yield graph


@pytest.fixture
async def graph(fake: FakeGraph) -> AsyncIterator[GraphClient]:
    async with aiohttp.ClientSession() as http:
        yield GraphClient(http, base_url=fake.url, version="v25.0", app_secret=APP_SECRET)

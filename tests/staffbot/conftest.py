"""The staff bot against the real fake Bot API on a real port and a real database.

Most tests run on SQLite with the database queue (these fixtures override the root ones); a
test that must hold on every backend parametrizes `backend` and `queue_backend` itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.fakes.bot_api import FakeBotApi
from bot.runtime import Runtime
from tests.staffbot.support import TOKEN, StaffBot, for_staff_bot, polling_bot


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def queue_backend() -> str:
    return "database"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(TOKEN).running() as running:
        yield running


@pytest.fixture
def staff_runtime(runtime: Runtime, fake: FakeBotApi) -> Runtime:
    return for_staff_bot(runtime, fake)


@pytest.fixture
async def staff_bot(staff_runtime: Runtime, fake: FakeBotApi) -> AsyncIterator[StaffBot]:
    async with polling_bot(staff_runtime, fake) as bot:
        yield bot

"""Two `livecart serve` processes sending one Page's replies: with REDIS_URL they keep to one
pace between them (REPLY_RATE_PER_PAGE), measured where the replies arrive, at the fake Graph
API. Real processes, the test's database (SQLite or PostgreSQL) and Redis."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from pathlib import Path

from bot.fakes.graph_api import FakeGraph
from storage.db import SessionFactory
from tests.cli import clean_env, serving
from tests.dispatch.support import (
    APP_SECRET,
    PAGE,
    TOKEN,
    add_replies,
    all_sent,
    assert_paced,
    wait_for,
)

RATE = 10  # replies a second for the Page, over both processes


async def test_two_serve_processes_keep_to_one_reply_rate_per_page(
    sessions: SessionFactory,
    database_url: str,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    async with FakeGraph.running(host="127.0.0.1", port=0, app_secret=APP_SECRET) as fake:
        fake.add_page(PAGE, TOKEN)
        env = clean_env(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            LIVECART_REDIS_PREFIX=redis_prefix,
            META_APP_SECRET=APP_SECRET,
            META_PAGE_TOKEN=TOKEN,
            META_GRAPH_URL=fake.url,
            STAFF_TOKEN="staff",
            REPLY_RATE_PER_PAGE=str(RATE),
        )
        with ExitStack() as processes:
            for n in range(2):
                folder = tmp_path / f"serve{n}"
                folder.mkdir()
                processes.enter_context(serving(env, folder))
            # Rows come in faster than the Page may be answered, a few at a time, so both
            # processes claim some (each claims at most 1.5 s of sends ahead).
            for start in range(0, 60, 5):
                await add_replies(sessions, PAGE, [f"c_{n}" for n in range(start, start + 5)])
                await asyncio.sleep(0.25)
            await wait_for(all_sent(sessions), timeout=30, what="60 replies sent")
    times = sorted(m.received_at for m in fake.messages)
    assert len(times) == 60
    # One bucket: a burst of 1 (a tenth of a second's worth), then RATE a second. Two buckets
    # would let through up to twice as many.
    assert_paced(times, rate=RATE, burst=1, windows=(1.0, 2.0, 3.0))
    assert times[-1] - times[0] >= 59 / RATE * 0.9

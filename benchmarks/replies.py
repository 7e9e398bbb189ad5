"""Reply dispatch benchmark: a backlog of private replies drained against the fake Graph API.

Every call to the fake takes 100-300 ms (Meta's usual answer time). The dispatcher should
keep each Page at its configured rate, so the backlog drains at (nearly) pages x rate, with
no comment answered twice.

    python -m benchmarks.replies [--replies 2000] [--pages 2] [--rate 40]
                                 [--database-url postgresql+asyncpg://...]

The send rate is measured where Meta would see it: the fake's arrival times of the replies.
Exits 1 when the rate is under 95% of the configured one or any comment got two replies.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from sqlalchemy import func, insert, select

from benchmarks.figures import Figure, Options, Target
from bot.dispatch.replies import ReplyDispatcher
from bot.fakes.graph_api import FakeGraph
from bot.graph import GraphClient
from bot.loop import run_async
from bot.settings import Settings
from storage.db import SessionFactory, create_engine, session_factory
from storage.migrate import upgrade
from storage.models import OutboxMessage, Page
from storage.types import utcnow

APP_SECRET = "bench-app-secret"
TARGET = 0.95
PAGES, RATE, LATENCY = 2, 40.0, (0.1, 0.3)


@dataclass(frozen=True, slots=True)
class Result:
    replies: int
    messages: int
    duplicates: int
    already_replied: int
    seconds: float
    per_second: float
    configured: float

    @property
    def ratio(self) -> float:
        return self.per_second / self.configured

    @property
    def passed(self) -> bool:
        return self.messages == self.replies and self.duplicates == 0 and self.ratio >= TARGET


async def bench(
    database_url: str, replies: int, pages: int, rate: float, latency: tuple[float, float]
) -> Result:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        page_ids = [f"10000000000000{n}" for n in range(pages)]
        async with FakeGraph.running(app_secret=APP_SECRET) as fake:
            for page_id in page_ids:
                fake.add_page(page_id, f"token-{page_id}")
            await _backlog(sessions, page_ids, replies)
            fake.set_latency(*latency)
            settings = Settings(
                database_url=database_url,
                meta_app_secret=APP_SECRET,
                reply_rate_per_page=rate,
            )
            await _drain(sessions, fake, settings, replies)
            return _measure(fake, replies, pages * rate)
    finally:
        await engine.dispose()


async def _backlog(sessions: SessionFactory, page_ids: list[str], replies: int) -> None:
    """The rows the order engine would have written during a busy live, Pages interleaved."""
    now = utcnow()
    async with sessions.begin() as session:
        await session.execute(
            insert(Page),
            [
                {"platform": "facebook", "page_id": p, "access_token": f"token-{p}"}
                for p in page_ids
            ],
        )
        rows = []
        for n in range(replies):
            page_id = page_ids[n % len(page_ids)]
            comment_id = f"{page_id}_{n}"
            rows.append(
                {
                    "kind": "reply",
                    "key": f"reply:facebook:{comment_id}",
                    "partition": f"page:{page_id}",
                    "payload": {
                        "platform": "facebook",
                        "page_id": page_id,
                        "comment_id": comment_id,
                        "text": f"Thanks! Your cart: https://shop.example/c/{n}",
                        "live_comment": True,
                    },
                    "status": "pending",
                    "attempts": 0,
                    "available_at": now,
                    "created_at": now,
                }
            )
        await session.execute(insert(OutboxMessage), rows)


async def _drain(
    sessions: SessionFactory, fake: FakeGraph, settings: Settings, replies: int
) -> None:
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as http:
        graph = GraphClient(
            http, base_url=fake.url, version="v25.0", app_secret=settings.meta_app_secret
        )
        dispatcher = ReplyDispatcher(sessions, graph, settings)
        stop = asyncio.Event()
        running = asyncio.create_task(dispatcher.run(stop))
        started = time.monotonic()
        while await _sent(sessions) < replies:
            if running.done() or time.monotonic() - started > 600:
                break
            await asyncio.sleep(0.25)
        stop.set()
        await running


async def _sent(sessions: SessionFactory) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")
        )
    return int(count or 0)


def _measure(fake: FakeGraph, replies: int, configured: float) -> Result:
    arrivals = sorted(message.received_at for message in fake.messages)
    per_comment = Counter(message.comment_id for message in fake.messages)
    seconds = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    return Result(
        replies=replies,
        messages=len(per_comment),
        duplicates=sum(count - 1 for count in per_comment.values()),
        already_replied=sum(1 for r in fake.requests if r.status == 400),
        seconds=seconds,
        per_second=(len(arrivals) - 1) / seconds if seconds else 0.0,
        configured=configured,
    )


def run(options: Options) -> list[Figure]:
    """The figures for `python -m benchmarks` (quick: 200 replies instead of 2,000)."""
    replies = 200 if options.quick else 2000
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        result = run_async(bench(url, replies, PAGES, RATE, LATENCY))
    return [
        Figure("replies", "messages/s", result.per_second, baseline=result.configured,
               baseline_name="configured", target=Target(">=", TARGET, of_ratio=True)),
        Figure("replies", "comments answered twice", result.duplicates, target=Target("<=", 0)),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=2000)
    parser.add_argument("--pages", type=int, default=PAGES)
    parser.add_argument("--rate", type=float, default=RATE, help="replies per second per Page")
    parser.add_argument("--min-latency", type=float, default=LATENCY[0])
    parser.add_argument("--max-latency", type=float, default=LATENCY[1])
    parser.add_argument("--database-url", help="default: a new SQLite file in a temporary folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        result = run_async(
            bench(url, args.replies, args.pages, args.rate, (args.min_latency, args.max_latency))
        )
    backend = url.split(":", 1)[0]
    print(
        f"{result.replies} replies over {args.pages} Pages at {args.rate:g}/s each "
        f"(latency {args.min_latency:g}-{args.max_latency:g} s, {backend})"
    )
    print(f"  drained in      {result.seconds:.1f} s")
    print(f"  messages/s      {result.per_second:.1f} (configured {result.configured:g})")
    print(f"  ratio           {result.ratio:.3f} (target >= {TARGET})")
    print(f"  messages        {result.messages} of {result.replies}")
    print(f"  duplicates      {result.duplicates} (10900 answers: {result.already_replied})")
    print("PASS" if result.passed else "FAIL")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())

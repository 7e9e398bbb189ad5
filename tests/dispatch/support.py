"""Outbox rows as the order engine writes them, read back, and a dispatcher run in the background
until a condition holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import insert, select

from bot.dispatch.backoff import Backoff
from bot.dispatch.pacing import PacingPolicy
from bot.dispatch.replies import ReplyPolicy
from bot.dispatch.reply_jobs import reply_partition
from storage.db import SessionFactory
from storage.models import OutboxMessage, Page
from storage.types import utcnow

APP_SECRET = "dispatch-test-app-secret"
PAGE, TOKEN = "370873143344730", "page-token-370873"
OTHER_PAGE, OTHER_TOKEN = "480873143344731", "page-token-480873"
IG, IG_TOKEN = "17841405726653026", "ig-token-17841405"

# Fast enough for tests: short retries, holds and rechecks.
FAST = ReplyPolicy(
    poll=0.05,
    retry=Backoff(first=0.05, cap=0.2),
    token_recheck=timedelta(seconds=0.3),
    pacing=PacingPolicy(usage_hold=1.0, throttle=Backoff(first=1.0, cap=2.0, jitter=False)),
)


class Runnable(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


async def add_page(
    sessions: SessionFactory, page_id: str, token: str | None, platform: str = "facebook"
) -> None:
    async with sessions.begin() as session:
        await session.execute(
            insert(Page).values(platform=platform, page_id=page_id, access_token=token)
        )


async def add_replies(
    sessions: SessionFactory,
    page_id: str,
    comment_ids: Sequence[str],
    *,
    platform: str = "facebook",
    kind: str = "reply",
    live_comment: bool = False,
    created_at: datetime | None = None,
) -> None:
    rows = [
        {
            "kind": kind,
            "key": f"{kind}:{platform}:{comment_id}",
            "partition": reply_partition(
                platform, page_id, live_comment=live_comment, public=kind == "public_reply"
            ),
            "payload": {
                "platform": platform,
                "page_id": page_id,
                "comment_id": comment_id,
                "text": f"Thanks! Your cart: https://shop.example/c/{comment_id}",
                "live_comment": live_comment,
            },
            "status": "pending",
            "attempts": 0,
            "available_at": utcnow(),
            "created_at": created_at or utcnow(),
        }
        for comment_id in comment_ids
    ]
    async with sessions.begin() as session:
        await session.execute(insert(OutboxMessage), rows)


async def add_store_events(
    sessions: SessionFactory,
    events: Sequence[tuple[int, str]],
    *,
    created_at: datetime | None = None,
) -> list[int]:
    """(order id, event) rows in the given order; returns their outbox ids."""
    ids = []
    async with sessions.begin() as session:
        for n, (order_id, event) in enumerate(events):
            row = OutboxMessage(
                kind="store_event",
                key=f"store:{order_id}:{n}:{event}",
                partition=f"order:{order_id}",
                payload={"event": event, "order_id": order_id, "data": {"n": n, "total": "12.50"}},
                status="pending",
                attempts=0,
                available_at=utcnow(),
                created_at=created_at or utcnow(),
            )
            session.add(row)
            await session.flush()
            ids.append(row.id)
    return ids


async def rows(sessions: SessionFactory, kind: str | None = None) -> list[OutboxMessage]:
    async with sessions() as session:
        statement = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind is not None:
            statement = statement.where(OutboxMessage.kind == kind)
        return list((await session.scalars(statement)).all())


async def statuses(sessions: SessionFactory, kind: str = "reply") -> dict[str, int]:
    found: dict[str, int] = {}
    for row in await rows(sessions, kind):
        found[row.status] = found.get(row.status, 0) + 1
    return found


async def page_row(sessions: SessionFactory, page_id: str) -> Page:
    async with sessions() as session:
        page = await session.scalar(select(Page).where(Page.page_id == page_id))
    assert page is not None
    return page


async def wait_for(
    condition: Callable[[], Awaitable[bool]], *, timeout: float, what: str = "the condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def running(*senders: Runnable) -> AsyncIterator[asyncio.Event]:
    """The senders' `run` loops in the background until the block ends."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(sender.run(stop)) for sender in senders]
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=15)


def all_sent(sessions: SessionFactory, kind: str = "reply") -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        found = await statuses(sessions, kind)
        return set(found) == {"sent"}

    return check


def assert_paced(
    times: Sequence[float],
    rate: float,
    burst: int,
    windows: Sequence[float] = (0.25, 0.5, 1.0, 2.0),
) -> None:
    """No window holds more than the burst plus the rate over it, with one more for where the
    window cuts and one for arrival jitter."""
    for window in windows:
        assert max_in_window(times, window) <= rate * window + burst + 2, window


def max_in_window(times: Sequence[float], window: float) -> int:
    """The most timestamps that fall in any interval of `window` seconds."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


Json = dict[str, Any]


class Gate:
    """A TCP forwarder in front of a real server at `url`: shut, its port refuses connections (an
    outage); silent, it accepts them and never answers (a hung server); opened again, it
    forwards on the same port. `url` is the server's URL through the gate."""

    def __init__(self, url: str) -> None:
        self._parts = urlsplit(url)
        self.port = 0
        self.connections = 0  # accepted while silent
        self._answering = True
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        credentials, _, _ = self._parts.netloc.rpartition("@")
        netloc = f"127.0.0.1:{self.port}"
        if credentials:
            netloc = f"{credentials}@{netloc}"
        return self._parts._replace(netloc=netloc).geturl()

    async def open(self, *, answering: bool = True) -> None:
        self._answering = answering
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def shut(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        await self._server.wait_closed()
        self._server = None

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        if not self._answering:
            self.connections += 1
            await reader.read()  # until the client hangs up
            return
        host, port = self._parts.hostname or "127.0.0.1", self._parts.port or 6379
        upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        self._writers.append(upstream_writer)
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()

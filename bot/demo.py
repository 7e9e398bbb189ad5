"""`livecart demo`: a whole live sale on this machine, offline, in about half a minute.

One process: livecart itself on the embedded default (SQLite in a temporary folder, in-process
queue and stock) and the project's own fake Graph API standing in for Meta. A scripted sale
sends signed webhooks to livecart over HTTP, exactly as Meta would; replies go to the fake.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from bot import live_sessions
from bot.checkout_token import checkout_url
from bot.dispatch.service import run_senders
from bot.fakes.graph_api import FakeGraph
from bot.live_sessions import LiveSpec
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from bot.simulation import CommentMix, SendStats, WebhookSender, simulate, viewers
from bot.sweeper import run_sweeper
from bot.workers import run_embedded_workers
from parsers import read_lineup
from storage.models import Comment, Live, Order, OutboxMessage
from storage.stock import levels
from webhooks.app import build_app

PAGE_ID, VIDEO_ID, PAGE_TOKEN = "100200300", "400500600", "demo-page-token"
LINEUP = """keyword,sku,name,price,stock,variant,aliases,max_per_buyer
A1,A1-RED-M,經典T恤,390,12,紅/红/red M,,3
A1,A1-RED-L,經典T恤,390,12,紅/红/red L,,3
A1,A1-BLU-M,經典T恤,390,12,藍/蓝/blue M,,3
A1,A1-BLU-L,經典T恤,390,12,藍/蓝/blue L,,3
A2,A2,保溫杯,590,25,,保溫杯/tumbler,
B3,B3,玫瑰香皂,120,60,,香皂/soap,10
C7,C7,草莓果醬,260,15,,果醬/jam,
蘋果,APPLE-BOX,富士蘋果禮盒,880,8,,apple,2
"""
# The products on screen, in order, and the share of the sale each gets.
SHOW = (("A1", 0.3), ("C7", 0.3), ("蘋果", 0.2), ("B3", 0.2))


@dataclass(frozen=True, slots=True)
class DemoOptions:
    seconds: float = 30.0
    rate: float = 12.0  # comments per second
    keep: bool = False
    viewers: int = 120


async def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> None:
    with tempfile.TemporaryDirectory(prefix="livecart-demo-") as folder:
        async with FakeGraph.running(host="127.0.0.1", port=0) as graph:
            graph.add_page(PAGE_ID, PAGE_TOKEN)
            settings = _settings(Path(folder), graph.url)
            async with open_runtime(settings, migrate=True) as runtime, _serving(runtime):
                await _sale(runtime, graph, options, out)
                if options.keep:
                    await _stay(runtime, out)


def _settings(folder: Path, graph_url: str) -> Settings:
    port = _free_port()
    return Settings(
        database_url=f"sqlite+aiosqlite:///{folder / 'demo.db'}",
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        staff_token=secrets.token_urlsafe(12),
        meta_app_secret=secrets.token_hex(16),
        meta_page_token=PAGE_TOKEN,
        meta_graph_url=graph_url,
        log_level="WARNING",
    )


@asynccontextmanager
async def _serving(runtime: Runtime) -> AsyncIterator[None]:
    """livecart as `livecart serve` runs it: the web app, workers, sweeper and senders."""
    runner = web.AppRunner(build_app(runtime), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, runtime.settings.host, runtime.settings.port).start()
    stop = asyncio.Event()
    background = [
        asyncio.create_task(run_embedded_workers(runtime, stop)),
        asyncio.create_task(run_sweeper(runtime, stop)),
        asyncio.create_task(run_senders(runtime, stop)),
    ]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*background, return_exceptions=True)
        await runner.cleanup()


async def _sale(runtime: Runtime, graph: FakeGraph, options: DemoOptions, out: TextIO) -> None:
    settings = runtime.settings
    async with runtime.sessions.begin() as session:
        live = await live_sessions.start_live(
            session, LiveSpec("facebook", PAGE_ID, LINEUP, video_id=VIDEO_ID, title="Demo live")
        )
        live_id = live.id
    print(
        f"livecart demo: live {live_id} started on {settings.public_url} "
        f"with {len(read_lineup(LINEUP))} SKUs; Meta is the local fake at {graph.url}",
        file=out,
    )
    rng = random.Random(7)  # noqa: S311 - a repeatable sale, not a secret
    mix = CommentMix(read_lineup(LINEUP), rng=rng)
    audience = viewers(options.viewers, rng)
    async with aiohttp.ClientSession() as http:
        sender = WebhookSender(
            http,
            f"{settings.public_url}/webhooks/meta",
            settings.meta_app_secret or "",
            page_id=PAGE_ID,
            video_id=VIDEO_ID,
        )
        for keyword, share in SHOW:
            await _on_screen(runtime, live_id, keyword)
            mix.current = keyword
            print(f"\n— on screen: {keyword} —", file=out)
            await simulate(
                sender,
                mix,
                audience,
                rate=options.rate,
                duration=options.seconds * share,
                progress=_progress(runtime, graph, live_id, out),
            )
    await _settle(runtime, graph)
    async with runtime.sessions.begin() as session:
        ended = await session.get(Live, live_id)
        assert ended is not None
        live_sessions.end(ended, settings.replay_window)
    await _report(runtime, graph, live_id, out)


async def _on_screen(runtime: Runtime, live_id: int, keyword: str) -> None:
    async with runtime.sessions.begin() as session:
        live = await session.get(Live, live_id)
        assert live is not None
        live_sessions.set_current(live, keyword)


def _progress(
    runtime: Runtime, graph: FakeGraph, live_id: int, out: TextIO
) -> Callable[[float, SendStats], None]:
    """Prints the live view about once a second while comments flow."""
    shown = [-1.0]
    printing: set[asyncio.Task[None]] = set()  # held so they are not collected mid-print

    def show(done: float, _stats: SendStats) -> None:
        if done - shown[0] < 0.2 and done < 1.0:
            return
        shown[0] = done
        task = asyncio.get_running_loop().create_task(_print_view(runtime, graph, live_id, out))
        printing.add(task)
        task.add_done_callback(printing.discard)

    return show


async def _print_view(runtime: Runtime, graph: FakeGraph, live_id: int, out: TextIO) -> None:
    view = await _figures(runtime, graph, live_id)
    print(
        f"  comments {view.processed}/{view.received} · orders {view.orders} · "
        f"replies sent {view.replies} · stock left {view.stock}",
        file=out,
        flush=True,
    )


@dataclass(frozen=True, slots=True)
class _Figures:
    received: int
    processed: int
    orders: int
    replies: int
    stock: str


async def _figures(runtime: Runtime, graph: FakeGraph, live_id: int) -> _Figures:
    async with runtime.sessions() as session:
        received, processed = (
            await session.execute(
                select(func.count(), func.count().filter(Comment.status == "processed")).where(
                    Comment.live_id == live_id
                )
            )
        ).one()
        orders = await session.scalar(
            select(func.count()).select_from(Order).where(Order.live_id == live_id)
        )
        stock = await levels(session)
    left = " ".join(f"{level.sku}:{level.available}" for level in stock)
    return _Figures(int(received), int(processed), int(orders or 0), len(graph.messages), left)


async def _settle(runtime: Runtime, graph: FakeGraph, within: float = 20.0) -> None:
    """Wait until every comment is processed and every reply has left the outbox."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        async with runtime.sessions() as session:
            pending = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == "reply", OutboxMessage.status == "pending")
            )
        if await runtime.queue.depth() == 0 and not pending:
            return
        await asyncio.sleep(0.2)


async def _report(runtime: Runtime, graph: FakeGraph, live_id: int, out: TextIO) -> None:
    view = await _figures(runtime, graph, live_id)
    settings = runtime.settings
    async with runtime.sessions() as session:
        orders = (
            await session.execute(
                select(Order.id, Order.total).where(Order.live_id == live_id).order_by(Order.id)
            )
        ).all()
    revenue = sum((total for _, total in orders), start=0)
    print("\n=== report ===", file=out)
    print(f"comments received {view.received}, processed {view.processed}", file=out)
    print(f"orders {view.orders}, revenue held ${revenue:,.0f}", file=out)
    print(f"private replies sent to buyers {view.replies}", file=out)
    print(f"stock left {view.stock}", file=out)
    print("checkout links:", file=out)
    for order_id, _ in orders[:3]:
        print(f"  {checkout_url(settings.public_url, order_id, runtime.checkout_secret)}", file=out)


async def _stay(runtime: Runtime, out: TextIO) -> None:
    settings = runtime.settings
    print(
        f"\nStill serving on {settings.public_url} (Ctrl-C to stop). Staff API token: "
        f"{settings.staff_token}\n  curl -H 'Authorization: Bearer {settings.staff_token}' "
        f"{settings.public_url}/api/inventory",
        file=out,
        flush=True,
    )
    await asyncio.Event().wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port

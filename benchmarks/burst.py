"""End-to-end burst: a "+1 now" flash sale against a real `livecart serve`.

livecart runs as its own `livecart serve` process (the embedded default: SQLite in a temporary
folder, no REDIS_URL; with `--redis` also Redis queue and stock with a `livecart worker`, with
`--postgres` also a PostgreSQL record) and the project's fake Graph API stands in for Meta's
replies. The lineup's product on screen, F1, has exactly 50 units and no per-buyer limit. A
separate load process (so the load never shares livecart's event loop) sends signed deliveries
of one to five comments, as Meta batches them, some delivered twice, as Meta retries:

  warm   3 s   the background alone, not measured (first requests, caches)
  calm  15 s   the background alone: 50 comments/s of the realistic mix on the other products
  wait         the background goes on until every calm comment is decided
  burst 10 s   2,000 "+1" comments/s ("+1", "＋1", "+1 now", "我要+1", ...) from 2,000 buyers
               (each of them ten times, in turn), over the background
  after        the background goes on until every burst comment is decided (or 120 s pass)

A comment is decided once the pipeline has committed what it became (an order line or a place
on the waitlist, in the transaction that marks it processed): the load process polls the
database for that every 0.2 s, so a "decided after" figure is at most 0.2 s late, and one under
0.2 s means the first look found everything decided. The burst's end is when its last comment
was sent. Oversell is F1's reserved + sold (staff API) or units in buyers' carts beyond 50.

Baselines, measured the same way in the same run:
  ack p50/p99, errors      the calm phase: the same server under the background alone
  decided after            seconds from the calm phase's last comment to its last decision
  burst comments/s sent    the planned rate (below 0.95x the load process could not keep up)
  burst decided/s          the offered rate: below it, a backlog builds during the burst
  units held               F1's stock: buyers must hold exactly all 50
Targets (issue #9): zero errors, ack p99 <= 100 ms, every burst comment decided <= 15 s after
the burst, oversell 0.

    python -m benchmarks.burst [--quick] [--redis URL] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.engine import URL, make_url

from benchmarks.figures import Figure, Options, Target, table
from bot.fakes.graph_api import FakeGraph
from bot.fakes.meta_webhooks import facebook_comment
from bot.loop import run_async
from bot.simulation import CommentMix, Viewer, WebhookSender, percentile, viewers
from parsers import compile_lineup, parse_comment, read_lineup
from storage.db import SessionFactory, create_engine, session_factory
from storage.models import STANDING_ORDERS, Comment

PAGE_ID, VIDEO_ID, PAGE_TOKEN = "700800900", "800900100", "burst-page-token"
FLASH = "F1"
# How viewers type "+1" in a rush; each must order one F1 while F1 is on screen (checked).
PLUS_ONES = ("+1", "+1", "+1", "+1", "＋1", "+1 now", "+1!", "+ 1", "+1 謝謝", "我要+1", "加1")
OTHERS = """A1,A1-RED-M,經典T恤,390,1000000,紅/红/red M,,
A1,A1-RED-L,經典T恤,390,1000000,紅/红/red L,,
A1,A1-BLU-M,經典T恤,390,1000000,藍/蓝/blue M,,
A1,A1-BLU-L,經典T恤,390,1000000,藍/蓝/blue L,,
A2,A2,保溫杯,590,1000000,,保溫杯/tumbler,
B3,B3,玫瑰香皂,120,1000000,,香皂/soap,
C7,C7,草莓果醬,260,1000000,,果醬/jam,
"""
LIVECART = Path(sys.executable).parent / "livecart"
POLL_SECONDS = 0.2
# Settings reads these; the server gets only what this benchmark sets.
_OWN_VARIABLES = re.compile(
    r"(DATABASE_|REDIS_|LIVECART_|META_|TELEGRAM_|CENTRAL_STORE_|SHOP_|REPLY_RATE_)\w*|"
    r"HOST|PORT|PUBLIC_URL|PUBLIC_REPLIES|STAFF_TOKEN|REPLAY_WINDOW|HOLD_FOR|LOG_LEVEL|"
    r"LOW_STOCK_AT|WORKER_RECLAIM_AFTER|PICKUP_SHOPS|SWEEP_EVERY|POLL_EVERY"
)


@dataclass(frozen=True, slots=True)
class Plan:
    burst_rate: float = 2000.0
    burst_seconds: float = 10.0
    background_rate: float = 50.0
    buyers: int = 2000
    units: int = 50
    warm_seconds: float = 3.0
    calm_seconds: float = 15.0
    # How long to wait for decisions after a phase before calling the rest undecided.
    patience: float = 120.0

    @property
    def burst_comments(self) -> int:
        return round(self.burst_rate * self.burst_seconds)


FULL = Plan()
QUICK = Plan(
    burst_rate=200.0,
    burst_seconds=2.0,
    background_rate=10.0,
    buyers=200,
    units=5,
    warm_seconds=1.0,
    calm_seconds=3.0,
    patience=40.0,
)


def lineup(units: int) -> str:
    head = "keyword,sku,name,price,stock,variant,aliases,max_per_buyer\n"
    return f"{head}{FLASH},{FLASH},限量聯名包 flash bag,1990,{units},,,\n{OTHERS}"


# --- the load process ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Server:
    """What the load process needs to know about the livecart under test."""

    url: str
    app_secret: str
    database_url: str


@dataclass(frozen=True, slots=True)
class Acks:
    deliveries: int
    errors: int
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class Drive:
    """What the load process saw; times are wall-clock (time.time()) seconds."""

    calm: Acks
    burst: Acks
    errors: int  # every non-200 answer of the run, background and burst
    burst_comments: int
    burst_buyers: int
    burst_started: float
    burst_ended: float
    calm_ended: float
    calm_decided: float | None  # when the last calm comment was decided (None: not in time)
    burst_decided: float | None
    burst_decided_count: int


class PhasedSender(WebhookSender):
    """A WebhookSender whose comment ids carry the phase they were sent in (`calm-12`), so the
    database tells which phase a stored comment belongs to."""

    def __init__(
        self, http: aiohttp.ClientSession, server: Server, phase: str, *, concurrency: int
    ) -> None:
        url = f"{server.url}/webhooks/meta"
        super().__init__(http, url, server.app_secret, page_id=PAGE_ID, video_id=VIDEO_ID)
        self.phase = phase
        self.per_phase: Counter[str] = Counter()
        self.slots = asyncio.Semaphore(concurrency)
        self._numbers = itertools.count(1)

    def changes(self, comments: Sequence[tuple[Viewer, str]]) -> list[dict[str, object]]:
        batch = []
        for viewer, text in comments:
            comment = f"{self.phase}-{next(self._numbers)}"
            self.per_phase[self.phase] += 1
            self.sent_comments.append((f"{VIDEO_ID}_{comment}", viewer.id, text))
            batch.append(
                facebook_comment(
                    page_id=PAGE_ID,
                    video_id=VIDEO_ID,
                    comment=comment,
                    text=text,
                    author_id=viewer.id,
                    author_name=viewer.name,
                )
            )
        return batch


@dataclass(slots=True)
class Pacer:
    """Sends comments at `rate` per second in deliveries of one to five, 2% of them twice
    (what `bot.simulation.simulate` does), but for as long as its caller says."""

    sender: PhasedSender
    draw: Callable[[], tuple[Viewer, str]]
    rate: float
    rng: random.Random
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, *, count: int | None = None, stop: asyncio.Event | None = None) -> float:
        """Send `count` comments, or until `stop` is set; returns when the last was sent, once
        every delivery has been answered."""
        started, queued = time.monotonic(), 0
        left = sys.maxsize if count is None else count
        while left > 0 and not (stop and stop.is_set()):
            due = min(int(self.rate * (time.monotonic() - started)) - queued, left)
            while due > 0:
                size = min(due, self.rng.randint(1, 5))
                await self._send([self.draw() for _ in range(size)])
                queued, due, left = queued + size, due - size, left - size
            await asyncio.sleep(0.01)
        finished = time.time()
        await asyncio.gather(*self._tasks)
        return finished

    async def _send(self, comments: list[tuple[Viewer, str]]) -> None:
        twice = self.rng.random() < 0.02
        changes = self.sender.changes(comments)
        await self.sender.slots.acquire()
        task = asyncio.create_task(self._post(changes, twice))
        self._tasks.add(task)  # held so it is not collected mid-flight
        task.add_done_callback(self._tasks.discard)

    async def _post(self, changes: list[dict[str, object]], twice: bool) -> None:
        try:
            await self.sender.send(changes, twice=twice)
        finally:
            self.sender.slots.release()


def drive(plan: Plan, server: Server) -> Drive:
    """The load process's whole run (a top-level function: it runs in a spawned process)."""
    return run_async(_drive(plan, server))


class Load:
    """The two streams of comments: the background mix and the burst of "+1"s."""

    def __init__(self, http: aiohttp.ClientSession, server: Server, plan: Plan) -> None:
        self.rng = random.Random(2026)  # repeatable: a run can be compared with the last
        others = [row for row in read_lineup(lineup(plan.units)) if row.keyword != FLASH]
        # No `current`: the background never types a bare "+1", so F1 goes to burst buyers only.
        self._mix = CommentMix(others, rng=self.rng)
        self._audience = viewers(300, self.rng)
        # Round robin over the shuffled buyers: every buyer comments, each as often.
        self._buyers = itertools.cycle(self.rng.sample(_buyers(plan.buyers), plan.buyers))
        self.background = PhasedSender(http, server, "warm", concurrency=128)
        self.burst = PhasedSender(http, server, "burst", concurrency=512)

    def background_comment(self) -> tuple[Viewer, str]:
        return self.rng.choice(self._audience), self._mix.comment()

    def burst_comment(self) -> tuple[Viewer, str]:
        return next(self._buyers), self.rng.choice(PLUS_ONES)


async def _drive(plan: Plan, server: Server) -> Drive:
    engine = create_engine(server.database_url, pool_size=1)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            return await _phases(Load(http, server, plan), Watch(session_factory(engine)), plan)
    finally:
        await engine.dispose()


async def _phases(load: Load, watch: Watch, plan: Plan) -> Drive:
    stop = asyncio.Event()
    background = Pacer(load.background, load.background_comment, plan.background_rate, load.rng)
    running = asyncio.create_task(background.run(stop=stop))
    try:
        await asyncio.sleep(plan.warm_seconds)
        load.background.phase = "calm"
        calm_from, calm_errors = len(load.background.stats.latencies), load.background.stats.errors
        await asyncio.sleep(plan.calm_seconds)
        load.background.phase = "wait"
        calm_ended = time.time()
        calm = _acks(load.background, calm_from, calm_errors)
        calm_decided = await watch.decided("calm", load.background.per_phase["calm"], plan.patience)
        load.background.phase = "busy"
        burst_started = time.time()
        burst = Pacer(load.burst, load.burst_comment, plan.burst_rate, load.rng)
        burst_ended = await burst.run(count=plan.burst_comments)
        load.background.phase = "after"
        burst_decided = await watch.decided("burst", plan.burst_comments, plan.patience)
        decided_count = await watch.count("burst")
    finally:
        stop.set()
        await running
    return Drive(
        calm=calm,
        burst=_acks(load.burst, 0, 0),
        errors=load.background.stats.errors + load.burst.stats.errors,
        burst_comments=load.burst.per_phase["burst"],
        burst_buyers=len({viewer for _, viewer, _ in load.burst.sent_comments}),
        burst_started=burst_started,
        burst_ended=burst_ended,
        calm_ended=calm_ended,
        calm_decided=calm_decided,
        burst_decided=burst_decided,
        burst_decided_count=decided_count,
    )


def _buyers(count: int) -> list[Viewer]:
    return [Viewer(f"buyer{n}", f"Buyer {n}") for n in range(count)]


def _acks(sender: PhasedSender, since: int, errors_before: int) -> Acks:
    latencies = sender.stats.latencies[since:]
    return Acks(
        deliveries=len(latencies),
        errors=sender.stats.errors - errors_before,
        p50_ms=percentile(latencies, 0.5) * 1000 if latencies else float("nan"),
        p99_ms=percentile(latencies, 0.99) * 1000 if latencies else float("nan"),
    )


@dataclass(frozen=True, slots=True)
class Watch:
    """Reads, as a monitor would, how many comments of a phase the pipeline has decided."""

    sessions: SessionFactory

    async def count(self, phase: str) -> int:
        async with self.sessions() as session:
            found = await session.scalar(
                select(func.count())
                .select_from(Comment)
                .where(
                    Comment.comment_id.startswith(f"{VIDEO_ID}_{phase}-", autoescape=True),
                    Comment.status == "processed",
                )
            )
        return int(found or 0)

    async def decided(self, phase: str, expected: int, patience: float) -> float | None:
        """When all `expected` comments of `phase` were first seen decided (None: not within
        `patience` seconds)."""
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            if await self.count(phase) >= expected:
                return time.time()
            await asyncio.sleep(POLL_SECONDS)
        return None


# --- the livecart under test -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Holdings:
    """F1 as the staff API reports it once the sale has settled."""

    on_hand: int
    reserved: int
    sold: int
    units_held: int  # F1 units in buyers' reserved or confirmed orders
    buyers: int

    def oversell(self, units: int) -> int:
        return max(0, self.reserved + self.sold - units, self.units_held - units)


@dataclass(frozen=True, slots=True)
class Under:
    """A livecart to start: its backend, database, and the secrets it shares with the bench."""

    backend: str
    database_url: str
    folder: Path
    graph_url: str
    app_secret: str
    redis_url: str | None
    redis_prefix: str
    staff_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    def env(self, port: int) -> dict[str, str]:
        """This process's environment without livecart's own variables, plus the bench's."""
        env = {k: v for k, v in os.environ.items() if not _OWN_VARIABLES.fullmatch(k)}
        env |= {
            "DATABASE_URL": self.database_url,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "STAFF_TOKEN": self.staff_token,
            "META_APP_SECRET": self.app_secret,
            "META_PAGE_TOKEN": PAGE_TOKEN,
            "META_GRAPH_URL": self.graph_url,
            "LOG_LEVEL": "WARNING",
        }
        if self.redis_url:
            env |= {"REDIS_URL": self.redis_url, "LIVECART_REDIS_PREFIX": self.redis_prefix}
        return env


def run(options: Options, backends: Sequence[str] | None = None) -> list[Figure]:
    """The burst on each backend (default: SQLite, Redis, and PostgreSQL when given)."""
    check_plus_ones()
    plan = QUICK if options.quick else FULL
    chosen = backends or ["sqlite", "redis", *(["postgresql"] if options.postgres_url else [])]
    figures: list[Figure] = []
    for backend in chosen:
        print(f"  burst {backend}: {plan.burst_comments} comments ...", file=sys.stderr, flush=True)
        figures += run_async(measure(backend, plan, options))
    return figures


def check_plus_ones() -> None:
    """The burst measures orders only if every "+1" it types orders one F1: make sure."""
    compiled = compile_lineup(read_lineup(lineup(1)))
    for text in set(PLUS_ONES):
        reading = parse_comment(text, compiled, FLASH)
        if reading.status != "order" or [(i.sku, i.quantity) for i in reading.items] != [
            (FLASH, 1)
        ]:
            raise RuntimeError(f"{text!r} no longer reads as one {FLASH}: fix PLUS_ONES")


async def measure(backend: str, plan: Plan, options: Options) -> list[Figure]:
    app_secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="livecart-burst-") as folder:
        async with (
            FakeGraph.running(app_secret=app_secret) as graph,
            _database(backend, Path(folder), options) as database_url,
        ):
            graph.add_page(PAGE_ID, PAGE_TOKEN)
            graph.add_live_video(VIDEO_ID, PAGE_ID, VIDEO_ID)
            under = Under(
                backend=backend,
                database_url=database_url,
                folder=Path(folder),
                graph_url=graph.url,
                app_secret=app_secret,
                redis_url=options.redis_url if backend == "redis" else None,
                redis_prefix=f"bench-burst-{uuid.uuid4().hex[:8]}",
            )
            try:
                drive, holdings = await _sale(under, plan)
            finally:
                if under.redis_url:
                    await _clean_redis(under.redis_url, under.redis_prefix)
    return figures(f"burst ({backend})", plan, drive, holdings)


async def _sale(under: Under, plan: Plan) -> tuple[Drive, Holdings]:
    headers = {"Authorization": f"Bearer {under.staff_token}"}
    async with _livecart(under) as url, aiohttp.ClientSession(headers=headers) as staff:
        live_id = await _start_live(staff, url, plan)
        drive_result = await _in_load_process(
            plan, Server(url, under.app_secret, under.database_url)
        )
        return drive_result, await _holdings(staff, url, live_id)


async def _in_load_process(plan: Plan, server: Server) -> Drive:
    # Spawned, not forked: a fork would copy this process's running event loop and sockets.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return await asyncio.wrap_future(pool.submit(drive, plan, server))


@asynccontextmanager
async def _database(backend: str, folder: Path, options: Options) -> AsyncIterator[str]:
    """A new, empty database for one run: a SQLite file, or a PostgreSQL database of its own
    beside the one `--postgres` names, dropped afterwards."""
    if backend != "postgresql":
        yield f"sqlite+aiosqlite:///{folder / 'livecart.db'}"
        return
    assert options.postgres_url is not None
    name = f"livecart_burst_{uuid.uuid4().hex[:8]}"
    try:
        yield await create_database(options.postgres_url, name)
    finally:
        await drop_database(options.postgres_url, name)


async def create_database(url: str, name: str) -> str:
    """Creates database `name` on the server of `url`; returns its livecart DATABASE_URL."""
    await _postgres(url, f'CREATE DATABASE "{name}"')
    return (
        _server(url)
        .set(drivername="postgresql+asyncpg", database=name)
        .render_as_string(hide_password=False)
    )


async def drop_database(url: str, name: str) -> None:
    await _postgres(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _postgres(url: str, statement: str) -> None:
    dsn = _server(url).render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _server(url: str) -> URL:
    """`url` as asyncpg takes it (whatever driver it names)."""
    return make_url(url).set(drivername="postgresql")


@asynccontextmanager
async def _livecart(under: Under) -> AsyncIterator[str]:
    """`livecart serve` (and with Redis one `livecart worker`) until the block ends."""
    port = _free_port()
    env = under.env(port)
    if under.backend == "postgresql":  # serve migrates only the embedded default itself
        upgrade = await _start(["db", "upgrade"], env, under.folder / "upgrade.log")
        if await upgrade.wait() != 0:
            raise RuntimeError(
                f"livecart db upgrade failed:\n{_tail(under.folder / 'upgrade.log')}"
            )
    processes = [await _start(["serve"], env, under.folder / "serve.log")]
    url = f"http://127.0.0.1:{port}"
    try:
        await _until_healthy(processes[0], url, under.folder / "serve.log")
        if under.redis_url:
            processes.append(await _start(["worker"], env, under.folder / "worker.log"))
        yield url
    finally:
        for process in reversed(processes):
            await _stop(process)


async def _start(args: list[str], env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with _log_file(log) as out:  # the child keeps its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            str(LIVECART), *args, env=env, stdout=out, stderr=subprocess.STDOUT
        )


@contextmanager
def _log_file(path: Path) -> Iterator[int]:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        yield descriptor
    finally:
        os.close(descriptor)


async def _until_healthy(process: asyncio.subprocess.Process, url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"livecart serve exited {process.returncode}:\n{_tail(log)}")
            try:
                async with http.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass  # not listening yet
            await asyncio.sleep(0.1)
    raise RuntimeError(f"livecart serve did not answer within 60 s:\n{_tail(log)}")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=30)
    except TimeoutError:
        process.kill()
        await process.wait()


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _start_live(staff: aiohttp.ClientSession, url: str, plan: Plan) -> int:
    live = {
        "platform": "facebook",
        "page_id": PAGE_ID,
        "video_id": VIDEO_ID,
        "title": "Burst benchmark",
        "lineup_csv": lineup(plan.units),
    }
    async with staff.post(f"{url}/api/lives", json=live) as response:
        if response.status != 201:
            raise RuntimeError(
                f"POST /api/lives answered {response.status}: {await response.text()}"
            )
        live_id = int((await response.json())["id"])
    async with staff.post(f"{url}/api/lives/{live_id}/current", json={"keyword": FLASH}) as answer:
        if answer.status != 200:
            raise RuntimeError(f"setting {FLASH} on screen answered {answer.status}")
    return live_id


async def _holdings(staff: aiohttp.ClientSession, url: str, live_id: int) -> Holdings:
    async with staff.get(f"{url}/api/inventory") as response:
        (level,) = [row for row in await response.json() if row["sku"] == FLASH]
    async with staff.get(f"{url}/api/lives/{live_id}/orders") as response:
        orders = await response.json()
    held = Counter[str]()
    for order in orders:
        if order["status"] in STANDING_ORDERS:
            for line in order["lines"]:
                if line["sku"] == FLASH and line["quantity"] > 0:
                    held[order["buyer"]["id"]] += line["quantity"]
    return Holdings(
        on_hand=level["on_hand"],
        reserved=level["reserved"],
        sold=level["sold"],
        units_held=sum(held.values()),
        buyers=len(held),
    )


async def _clean_redis(url: str, prefix: str) -> None:
    redis = Redis.from_url(url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


# --- figures ---------------------------------------------------------------------------------


def figures(suite: str, plan: Plan, drive: Drive, holdings: Holdings) -> list[Figure]:
    sending = max(drive.burst_ended - drive.burst_started, 1e-9)
    decided_in = _since(drive.burst_decided, drive.burst_started)
    return [
        Figure(
            suite,
            "burst comments/s sent",
            drive.burst_comments / sending,
            "",
            plan.burst_rate,
            "planned",
            Target(">=", 0.95, of_ratio=True),
        ),
        Figure(
            suite,
            "delivery errors (non-200)",
            drive.errors,
            "",
            drive.calm.errors,
            "calm",
            Target("<=", 0),
        ),
        Figure(suite, "ack p50", drive.burst.p50_ms, "ms", drive.calm.p50_ms, "calm"),
        Figure(
            suite, "ack p99", drive.burst.p99_ms, "ms", drive.calm.p99_ms, "calm", Target("<=", 100)
        ),
        Figure(
            suite,
            "burst comments decided",
            drive.burst_decided_count,
            "",
            drive.burst_comments,
            "sent",
            Target(">=", 1, of_ratio=True),
        ),
        Figure(
            suite,
            "last decision after the burst",
            _since(drive.burst_decided, drive.burst_ended),
            "s",
            _since(drive.calm_decided, drive.calm_ended),
            "calm",
            Target("<=", 15),
        ),
        Figure(
            suite,
            "burst comments decided/s",
            drive.burst_comments / decided_in,
            "",
            plan.burst_rate,
            "offered",
        ),
        Figure(
            suite,
            f"{FLASH} units held by buyers",
            holdings.units_held,
            "",
            plan.units,
            "stock",
            Target("==", plan.units),
        ),
        Figure(suite, f"buyers holding {FLASH} (of {drive.burst_buyers:,})", holdings.buyers),
        Figure(
            suite, "oversell (units)", holdings.oversell(plan.units), "", None, "", Target("<=", 0)
        ),
    ]


def _since(moment: float | None, start: float) -> float:
    """Seconds from `start` to `moment`; infinite when the moment never came (not decided)."""
    return float("inf") if moment is None else max(moment - start, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.burst", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="a small burst (a test's size)")
    parser.add_argument("--redis", metavar="URL", help="also run with Redis queue and stock")
    parser.add_argument("--postgres", metavar="URL", help="also run on PostgreSQL (admin URL)")
    args = parser.parse_args()
    backends = [
        "sqlite",
        *(["redis"] if args.redis else []),
        *(["postgresql"] if args.postgres else []),
    ]
    options = Options(quick=args.quick, redis_url=args.redis or "", postgres_url=args.postgres)
    print(table(run(options, backends)))


if __name__ == "__main__":
    main()

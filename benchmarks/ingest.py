"""Webhook ingestion benchmark: signed deliveries per second at 64 concurrent connections.

Three servers side by side, each `livecart`'s real app in its own process, differing only in
what a delivery's 200 waits for:
  ceiling  verify and check, then answer without storing anything (the upper bound)
  naive    one durable write per request (one transaction / one XADD each)
  livecart the group commit livecart runs (many deliveries share one write)
on the embedded default (SQLite inbox), with Redis (Streams), and with --postgres on PostgreSQL;
the ceiling and livecart run four times each, around naive (see RUN_ORDER).
The load comes from `benchmarks.http_load` (prepared requests over keep-alive connections), light
enough that the servers, not the load generator, set the pace. Each server says at the end how
many deliveries its queue gained, which must be exactly the number answered 200.

    python -m benchmarks.ingest [--requests 20000] [--connections 64] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy import func, insert, select

from benchmarks.figures import Figure, Options, Target
from benchmarks.http_load import post_request, send_all
from bot.fakes.meta_webhooks import envelope, facebook_comment, signed_body
from bot.loop import run_async
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from bot.simulation import percentile
from storage.models import InboxDelivery
from storage.queue import ParkedDelivery, QueuedDelivery
from storage.redis_keys import RedisKeys
from webhooks.app import build_app

SECRET = "bench-secret"
MODES = ("ceiling", "naive", "livecart")
# The order each backend's servers run in: symmetric, so a machine that speeds up or slows down
# during the run moves the ceiling and livecart alike. Their runs are short and the ceiling's
# swing by a quarter from one to the next on a shared machine: four each, and their medians.
RUN_ORDER = (
    *("ceiling", "livecart", "livecart", "ceiling"),
    "naive",
    *("ceiling", "livecart", "livecart", "ceiling"),
)
ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = 64
HOST = "127.0.0.1"


class NullQueue:
    """Keeps nothing: the ceiling of what the route can answer."""

    async def put(self, body: bytes) -> None:
        return None

    async def take(self, consumer: str, limit: int, wait: float) -> list[QueuedDelivery]:
        return []

    async def ack(self, ids: Sequence[str]) -> None:
        return None

    async def park(self, failed: Sequence[tuple[QueuedDelivery, str]]) -> None:
        return None

    async def parked(self, limit: int) -> tuple[int, list[ParkedDelivery]]:
        return 0, []

    async def unpark(self) -> int:
        return 0

    async def depth(self) -> int:
        return 0

    async def close(self) -> None:
        return None


class NaiveSqlQueue(NullQueue):
    def __init__(self, runtime: Runtime) -> None:
        self._sessions = runtime.sessions

    async def put(self, body: bytes) -> None:
        async with self._sessions.begin() as session:
            await session.execute(insert(InboxDelivery).values(body=body))

    async def depth(self) -> int:
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(InboxDelivery)) or 0)


class NaiveRedisQueue(NullQueue):
    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self._redis = redis
        self._keys = keys

    async def put(self, body: bytes) -> None:
        await self._redis.xadd(self._keys.inbox, {b"body": body})

    async def depth(self) -> int:
        return int(await self._redis.xlen(self._keys.inbox))


def _with_queue(runtime: Runtime, mode: str) -> Runtime:
    if mode == "ceiling":
        return replace(runtime, queue=NullQueue())
    if mode == "naive":
        naive = (
            NaiveRedisQueue(runtime.redis, runtime.keys)
            if runtime.redis is not None
            else NaiveSqlQueue(runtime)
        )
        return replace(runtime, queue=naive)
    return runtime


async def _serve(mode: str, settings: Settings, port: int) -> None:
    """Serves until SIGTERM; prints `ready` once listening, and at the end how many deliveries
    its queue gained, so the measuring side can check that every 200 was kept."""
    from aiohttp import web

    async with open_runtime(settings, migrate=True) as runtime:
        serving = _with_queue(runtime, mode)
        before = await serving.queue.depth()
        runner = web.AppRunner(build_app(serving), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, HOST, port).start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await stop.wait()
        await runner.cleanup()
        print(await serving.queue.depth() - before, flush=True)


@dataclass(frozen=True, slots=True)
class Result:
    backend: str
    mode: str
    per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    # 200s answered minus deliveries queued: above 0, deliveries lost; below 0, queued twice
    unqueued: int


def _requests(port: int, count: int) -> list[bytes]:
    """Realistic signed deliveries, one to five comments each as Meta batches them, as the bytes
    of their POSTs."""
    out = []
    for n in range(count):
        changes = [
            facebook_comment(
                page_id="111",
                video_id="222",
                comment=f"{n}_{k}",
                text="A1 紅 M +1",
                author_id=f"{n % 2000}",
                author_name=f"Viewer {n % 2000}",
            )
            for k in range(1 + n % 5)
        ]
        body, headers = signed_body(envelope("page", [("111", changes)]), SECRET)
        out.append(post_request(HOST, port, "/webhooks/meta", body, headers))
    return out


def _start_server(mode: str, env: dict[str, str], port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.ingest", "--serve", mode, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,  # where `-m benchmarks.ingest` is found, whatever the caller's folder
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the {mode} server did not start")
    return process


async def _measure(
    backend: str, mode: str, env: dict[str, str], requests: int, connections: int
) -> Result:
    port = _free_port()
    process = _start_server(mode, env, port)
    try:
        warm_up = await send_all(HOST, port, _requests(port, min(500, requests)), connections)
        load = await send_all(HOST, port, _requests(port, requests), connections)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            said, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    if process.returncode != 0:
        raise RuntimeError(f"the {mode} server exited with {process.returncode}")
    answered = warm_up.answered_200 + load.answered_200 if mode != "ceiling" else 0
    unqueued = answered - int(said.split()[-1])
    p50, p99 = percentile(load.latencies, 0.5), percentile(load.latencies, 0.99)
    return Result(backend, mode, load.per_second, p50 * 1000, p99 * 1000, load.errors, unqueued)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _backends(args: argparse.Namespace, folder: Path) -> dict[str, dict[str, str]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DATABASE_"))}
    base["META_APP_SECRET"] = SECRET
    backends = {"sqlite": {**base, "DATABASE_URL": f"sqlite+aiosqlite:///{folder}/sqlite.db"}}
    backends["redis"] = {
        **base,
        "DATABASE_URL": f"sqlite+aiosqlite:///{folder}/redis.db",
        "REDIS_URL": args.redis,
        "LIVECART_REDIS_PREFIX": f"bench-ingest-{os.getpid()}",
    }
    if args.postgres:
        backends["postgresql"] = {**base, "DATABASE_URL": args.postgres}
    return backends


async def _run(args: argparse.Namespace) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for backend, env in _backends(args, Path(folder)).items():
            if args.only and backend not in args.only:
                continue
            runs: dict[str, list[Result]] = {mode: [] for mode in MODES}
            for mode in RUN_ORDER:
                print(f"  {backend:<10} {mode:<8} ...", file=sys.stderr, flush=True)
                runs[mode].append(
                    await _measure(backend, mode, env, args.requests, args.connections)
                )
            results += [_combined(runs[mode]) for mode in MODES]
    await _clean_redis(args.redis)
    return results


def _combined(runs: Sequence[Result]) -> Result:
    """One mode's runs as one: the median rate and p50, the worst p99, every error."""
    return replace(
        runs[0],
        per_second=statistics.median(r.per_second for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=max(r.p99_ms for r in runs),
        errors=sum(r.errors for r in runs),
        unqueued=sum(r.unqueued for r in runs),
    )


async def _clean_redis(url: str) -> None:
    redis = Redis.from_url(url)
    keys = [key async for key in redis.scan_iter(match=f"bench-ingest-{os.getpid()}*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def _table(results: list[Result], connections: int) -> str:
    lines = [
        f"Ingest: signed deliveries/s at {connections} connections (1-5 comments each)",
        "| backend | mode | deliveries/s | ack p50 ms | ack p99 ms | errors | 200s - queued "
        "| vs ceiling | vs naive |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    by = {(r.backend, r.mode): r for r in results}
    for r in results:
        ceiling = by[(r.backend, "ceiling")].per_second
        naive = by[(r.backend, "naive")].per_second
        lines.append(
            f"| {r.backend} | {r.mode} | {r.per_second:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
            f"| {r.errors} | {r.unqueued} | {r.per_second / ceiling:.2f} "
            f"| {r.per_second / naive:.2f}x |"
        )
    return "\n".join(lines)


def run(options: Options) -> list[Figure]:
    """The figures for `python -m benchmarks` (quick: 1,000 deliveries instead of 20,000)."""
    args = argparse.Namespace(
        requests=1000 if options.quick else 20000,
        connections=CONNECTIONS,
        redis=options.redis_url,
        postgres=options.postgres_url,
        only=None,
    )
    return figures(asyncio.run(_run(args)))


def figures(results: list[Result]) -> list[Figure]:
    """livecart's mode beside the ceiling and naive ones, against the README's targets."""
    by = {(r.backend, r.mode): r for r in results}
    out: list[Figure] = []
    for r in (r for r in results if r.mode == "livecart"):
        ceiling, naive = by[(r.backend, "ceiling")], by[(r.backend, "naive")]
        rate = f"{r.backend} deliveries/s"
        out += [
            Figure("ingest", rate, r.per_second, baseline=ceiling.per_second,
                   baseline_name="ceiling", target=Target(">=", 0.75, of_ratio=True)),
            Figure("ingest", rate, r.per_second, baseline=naive.per_second,
                   baseline_name="naive", target=Target(">=", 1.7, of_ratio=True)),
            Figure("ingest", f"{r.backend} ack p99", r.p99_ms, "ms", ceiling.p99_ms, "ceiling",
                   Target("<=", 25)),
            Figure("ingest", f"{r.backend} errors", r.errors, target=Target("<=", 0)),
            Figure("ingest", f"{r.backend} answered 200 minus queued", r.unqueued,
                   target=Target("==", 0)),
        ]  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--postgres", help="also measure a PostgreSQL inbox at this URL")
    parser.add_argument("--only", nargs="*", help="measure only these backends")
    parser.add_argument("--serve", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_async(_serve(args.serve, Settings.from_env(os.environ), args.port))
        return
    print(_table(asyncio.run(_run(args)), args.connections))


if __name__ == "__main__":
    main()

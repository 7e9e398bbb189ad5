"""A `livecart worker` killed mid-batch loses nothing: another worker takes over its entries.

Real processes on the Redis Stream; the database decides "exactly once" (unique keys)."""

import asyncio
import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy import func, select

from bot.fakes.meta_webhooks import envelope, facebook_comment, signed_body
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from storage.models import Comment, OutboxMessage, StockMove, WaitlistEntry
from tests.cli import LIVECART, clean_env
from tests.pipeline import PAGE, VIDEO, start_test_live

DELIVERIES, PER_DELIVERY = 400, 5


async def _counts(runtime: Runtime) -> tuple[int, int, int, int]:
    async with runtime.sessions() as session:
        processed = await session.scalar(
            select(func.count()).select_from(Comment).where(Comment.status == "processed")
        )
        replies = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "reply")
        )
        reserved = await session.scalar(
            select(func.count()).select_from(StockMove).where(StockMove.reason == "reserve")
        )
        waiting = await session.scalar(select(func.count()).select_from(WaitlistEntry))
    return int(processed or 0), int(replies or 0), int(reserved or 0), int(waiting or 0)


def _worker(env: dict[str, str], tmp_path: Path) -> subprocess.Popen[bytes]:
    command = [LIVECART, "worker", "--concurrency", "2", "--batch", "10"]
    return subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def _wait_until(runtime: Runtime, done: int, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while (await _counts(runtime))[0] < done:
        if time.monotonic() > deadline:
            worker_log = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(
                f"only {(await _counts(runtime))[0]} of {done} processed; worker log:\n{worker_log}"
            )
        await asyncio.sleep(0.05)


async def test_a_killed_worker_loses_nothing_and_doubles_nothing(
    database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, redis_url=redis_url, redis_prefix=redis_prefix)
    total = DELIVERIES * PER_DELIVERY
    async with open_runtime(settings, migrate=False) as runtime:
        await start_test_live(runtime)
        for d in range(DELIVERIES):
            changes = [
                facebook_comment(
                    page_id=PAGE,
                    video_id=VIDEO,
                    comment=f"{d}-{k}",
                    text="B3+1",
                    author_id=f"buyer{d}-{k}",
                    author_name="Viewer",
                )
                for k in range(PER_DELIVERY)
            ]
            await runtime.queue.put(signed_body(envelope("page", [(PAGE, changes)]), "s")[0])
        env = clean_env(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            LIVECART_REDIS_PREFIX=redis_prefix,
            WORKER_RECLAIM_AFTER="1s",
        )
        first = _worker(env, tmp_path)
        try:
            await _wait_until(runtime, total // 10, timeout=60, log=tmp_path / "worker.log")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        assert (await _counts(runtime))[0] < total, "the first worker finished before the kill"
        second = _worker(env, tmp_path)
        try:
            await _wait_until(runtime, total, timeout=120, log=tmp_path / "worker.log")
            for _ in range(100):  # acknowledgements follow the commits
                if await runtime.queue.depth() == 0:
                    break
                await asyncio.sleep(0.05)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
        processed, replies, reserved, waiting = await _counts(runtime)
        assert processed == total
        assert replies == total  # one reply per comment
        assert reserved == 100  # B3's stock, once each
        assert reserved + waiting == total  # every comment decided exactly once
        assert await runtime.queue.depth() == 0

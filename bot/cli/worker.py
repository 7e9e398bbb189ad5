"""`livecart worker`: pipeline workers on the Redis Stream; run as many processes as you like."""

from __future__ import annotations

import argparse
import asyncio
import logging

from bot.cli.errors import CommandError, load_settings, service_errors, until_stopped
from bot.loop import run_async
from bot.pipeline import Pipeline
from bot.runtime import open_runtime
from bot.settings import Settings
from bot.workers import BATCH, WORKER_CONCURRENCY, run_workers

log = logging.getLogger("livecart.worker")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("worker", help="run pipeline workers on the Redis Stream")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=WORKER_CONCURRENCY,
        help=f"workers in this process (default {WORKER_CONCURRENCY})",
    )
    parser.add_argument(
        "--batch", type=int, default=BATCH, help=f"deliveries per batch (default {BATCH})"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.redis_url is None:
        raise CommandError(
            "livecart worker needs REDIS_URL (without it, livecart serve runs the workers itself)",
            exit_code=2,
        )
    if args.concurrency < 1 or args.batch < 1:
        raise CommandError("--concurrency and --batch must be at least 1", exit_code=2)
    with service_errors(settings):
        run_async(work(settings, args.concurrency, args.batch))
    return 0


async def work(settings: Settings, concurrency: int, batch: int) -> None:
    async with open_runtime(settings, migrate=False) as runtime:
        stop = asyncio.Event()
        workers = asyncio.create_task(
            run_workers(
                runtime.queue, Pipeline.for_runtime(runtime), concurrency, stop, batch=batch
            )
        )
        log.info("livecart worker: %d workers on the Redis Stream", concurrency)
        await until_stopped(stop)
        await asyncio.wait_for(workers, timeout=10)
    log.info("livecart worker stopped")

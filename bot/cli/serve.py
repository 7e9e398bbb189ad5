"""`livecart serve`: the web process (webhooks, staff API, checkout pages).

With no REDIS_URL it also runs the pipeline workers in-process (the embedded default).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager

from aiohttp import web

from bot.cli.errors import CommandError, load_settings, service_errors, until_stopped
from bot.dispatch.service import run_senders
from bot.loop import run_async
from bot.polling import run_poller
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from bot.staffbot import TelegramIngress, run_staff_bot
from bot.sweeper import run_sweeper
from bot.workers import EMBEDDED_WORKERS, run_embedded_workers
from webhooks.app import build_app

log = logging.getLogger("livecart.serve")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "serve", help="run the web process: webhooks, staff API, checkout pages (HOST:PORT)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    with service_errors(settings):
        run_async(serve(settings))
    return 0


async def serve(settings: Settings) -> None:
    # The embedded default (SQLite) migrates itself; PostgreSQL migrates in the release phase.
    embedded = settings.database_url.startswith("sqlite")
    async with open_runtime(settings, migrate=embedded) as runtime:
        stop = asyncio.Event()
        telegram = TelegramIngress.from_settings(settings)
        async with (
            _listening(runtime, telegram),
            _embedded_workers(runtime, stop),
            _background(run_sweeper(runtime, stop), stop),
            _background(run_poller(runtime, stop), stop),
            _background(run_senders(runtime, stop), stop),
            # last, so it stops first
            _background(run_staff_bot(runtime, stop, telegram), stop),
        ):
            await until_stopped(stop)
    log.info("livecart stopped")


@asynccontextmanager
async def _listening(runtime: Runtime, telegram: TelegramIngress) -> AsyncIterator[None]:
    settings = runtime.settings
    runner = web.AppRunner(build_app(runtime, telegram), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as error:
            raise CommandError(
                f"cannot listen on {settings.host}:{settings.port} ({error.strerror})"
            ) from None
        log.info("livecart listening on http://%s:%d", settings.host, settings.port)
        yield
    finally:
        await runner.cleanup()


@asynccontextmanager
async def _background(
    job: Coroutine[object, object, None], stop: asyncio.Event
) -> AsyncIterator[None]:
    """A task that runs while the server does and finishes when `stop` is set."""
    task = asyncio.create_task(job)
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


@asynccontextmanager
async def _embedded_workers(runtime: Runtime, stop: asyncio.Event) -> AsyncIterator[None]:
    if runtime.redis is not None:
        log.info("REDIS_URL is set: run `livecart worker` processes for the pipeline")
        yield
        return
    workers = asyncio.create_task(run_embedded_workers(runtime, stop))
    log.info("pipeline: %d in-process workers on the database inbox", EMBEDDED_WORKERS)
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(workers, timeout=10)

"""`livecart serve`: the web process (webhooks, staff API, checkout pages)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from aiohttp import web

from bot.cli.errors import CommandError, load_settings, service_errors
from bot.runtime import open_runtime
from bot.settings import Settings
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
        asyncio.run(serve(settings))
    return 0


async def serve(settings: Settings) -> None:
    # The embedded default (SQLite) migrates itself; PostgreSQL migrates in the release phase.
    embedded = settings.database_url.startswith("sqlite")
    async with open_runtime(settings, migrate=embedded) as runtime:
        runner = web.AppRunner(build_app(runtime), access_log=None)
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
            await _until_stopped()
        finally:
            await runner.cleanup()
    log.info("livecart stopped")


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()

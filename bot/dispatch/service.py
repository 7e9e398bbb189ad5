"""Running the senders: the reply dispatcher and the central store sync, side by side."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.dispatch.replies import ReplyDispatcher
from bot.dispatch.store_sync import StoreSync
from bot.graph import GraphClient
from bot.runtime import Runtime
from storage.redis_buckets import RedisBuckets

# Calls in flight to Meta at once; the Pages' token buckets decide the actual rate.
GRAPH_CONNECTIONS = 200


async def run_senders(runtime: Runtime, stop: asyncio.Event) -> None:
    """Send replies and store events until `stop` is set (owns its HTTP sessions)."""
    settings = runtime.settings
    connector = aiohttp.TCPConnector(limit=GRAPH_CONNECTIONS)
    async with (
        aiohttp.ClientSession(connector=connector) as graph_http,
        aiohttp.ClientSession() as store_http,
    ):
        graph = GraphClient(
            graph_http,
            base_url=settings.meta_graph_url,
            version=settings.meta_graph_version,
            app_secret=settings.meta_app_secret,
        )
        # With Redis, every process's dispatcher keeps to one pace per account.
        buckets = None if runtime.redis is None else RedisBuckets(runtime.redis, runtime.keys)
        await asyncio.gather(
            ReplyDispatcher(runtime.sessions, graph, settings, buckets=buckets).run(stop),
            StoreSync(runtime.sessions, store_http, settings).run(stop),
        )

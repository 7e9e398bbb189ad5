"""The composition root: builds the shared clients once from the settings, closes them once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings
from storage.app_state import ensure_secret
from storage.db import SessionFactory, WriterTurns, create_engine, session_factory
from storage.inbox import SqlInbox
from storage.migrate import current_revision, head_revision, upgrade
from storage.queue import DeliveryQueue
from storage.redis_client import connect_redis
from storage.redis_keys import RedisKeys
from storage.redis_stock import RedisStockGate
from storage.stock_backends import RedisStock, SqlStock, Stock
from storage.stream import RedisStreamQueue

log = logging.getLogger(__name__)


class SchemaNotReady(RuntimeError):
    """The database is not at the newest schema and this process may not migrate it."""


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    redis: Redis | None
    keys: RedisKeys
    queue: DeliveryQueue
    stock: Stock
    checkout_secret: str
    writers: WriterTurns


@asynccontextmanager
async def open_runtime(settings: Settings, *, migrate: bool) -> AsyncIterator[Runtime]:
    """`migrate`: bring the schema up to date first (the embedded default does this itself);
    otherwise refuse to run on an outdated schema (production migrates in its release phase)."""
    engine = create_engine(settings.database_url)
    redis = connect_redis(settings.redis_url) if settings.redis_url else None
    try:
        await _prepare_schema(engine, migrate=migrate)
        sessions = session_factory(engine)
        secret = settings.livecart_secret or await ensure_secret(sessions)
        keys = RedisKeys(settings.redis_prefix)
        writers = WriterTurns(engine)
        queue: DeliveryQueue
        if redis is not None:
            queue = RedisStreamQueue(
                redis, keys, reclaim_after=settings.worker_reclaim_after.total_seconds()
            )
        elif settings.inbox_database_url is not None:
            queue = await SqlInbox.beside(engine, settings.inbox_database_url)
        else:
            queue = SqlInbox.in_database(settings.database_url)
        stock: Stock = SqlStock()
        if redis is not None:
            gate = RedisStockGate(redis, keys, sessions)
            await _rebuild_counters(gate)
            stock = RedisStock(gate)
        try:
            yield Runtime(settings, engine, sessions, redis, keys, queue, stock, secret, writers)
        finally:
            await queue.close()
            await _settle(stock)
    finally:
        if redis is not None:
            await redis.aclose()
        await engine.dispose()


async def _settle(stock: Stock) -> None:
    try:
        await stock.settle()
    except RedisError as error:
        log.warning(
            "stock: Redis did not answer (%s); its counters rebuild at the next start", error
        )


async def _rebuild_counters(gate: RedisStockGate) -> None:
    """Redis may have lost its counters while we were away: SQL's ledger is the record. If
    Redis is down now, counters load one by one once it answers (a missing one is loaded)."""
    try:
        log.info("stock: %d Redis counters rebuilt from the ledger", await gate.load())
    except RedisError as error:
        log.warning("stock: Redis did not answer (%s); counters will load when it does", error)


async def _prepare_schema(engine: AsyncEngine, *, migrate: bool) -> None:
    if migrate:
        before, after = await upgrade(engine)
        if before != after:
            log.info("database schema migrated from %s to %s", before or "empty", after)
        return
    current = await current_revision(engine)
    if current != head_revision():
        raise SchemaNotReady(
            f"the database schema is at {current or 'nothing'}, not {head_revision()}: "
            "run `livecart db upgrade` first"
        )

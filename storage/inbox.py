"""The embedded queue: an `inbox` table, leased to consumers (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import timedelta
from typing import cast

from sqlalchemy import Table, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import WriterTurns, insert_rows, session_factory
from storage.group_commit import GroupCommit
from storage.models import InboxDelivery
from storage.queue import QueuedDelivery
from storage.types import utcnow

LEASE = timedelta(seconds=60)
# Core table: a delivery is a plain row, written without the ORM's per-row bulk layer.
INBOX = cast(Table, InboxDelivery.__table__)


class SqlInbox:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        lease: timedelta = LEASE,
        writers: WriterTurns | None = None,
    ) -> None:
        self._engine = engine
        self._writers = writers or WriterTurns(engine)
        self._sessions = session_factory(engine)
        # PostgreSQL: consumers skip each other's rows, and a group commits without a
        # transaction; SQLite has one writer.
        self._postgresql = engine.dialect.name == "postgresql"
        self._lease = lease
        self._arrived = asyncio.Event()
        self._writes: GroupCommit[bytes] = GroupCommit(self._insert)

    async def put(self, body: bytes) -> None:
        await self._writes.submit(body)

    async def _insert(self, bodies: Sequence[bytes]) -> None:
        rows = [{"body": body} for body in bodies]
        shared = {"received_at": utcnow(), "attempts": 0}
        if self._postgresql:
            # One INSERT is atomic by itself: without BEGIN and COMMIT a group costs one round
            # trip to PostgreSQL instead of three.
            async with self._engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await insert_rows(connection, INBOX, rows, shared=shared)
        else:
            async with self._writers.turn(urgent=True), self._engine.begin() as connection:
                await insert_rows(connection, INBOX, rows, shared=shared)
        self._arrived.set()

    async def take(self, consumer: str, limit: int, wait: float) -> list[QueuedDelivery]:
        taken = await self._claim(consumer, limit)
        if taken or wait <= 0:
            return taken
        # Deliveries from this process wake us at once; other processes' are seen by polling.
        self._arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), timeout=min(wait, 0.5))
        return await self._claim(consumer, limit)

    async def _claim(self, consumer: str, limit: int) -> list[QueuedDelivery]:
        now = utcnow()
        free = (
            select(InboxDelivery.id)
            .where(or_(InboxDelivery.claimed_until.is_(None), InboxDelivery.claimed_until < now))
            .order_by(InboxDelivery.id)
            .limit(limit)
        )
        if self._postgresql:
            free = free.with_for_update(skip_locked=True)
        async with self._writers.turn(), self._sessions.begin() as session:
            rows = await session.execute(
                update(InboxDelivery)
                .where(InboxDelivery.id.in_(free.scalar_subquery()))
                .values(
                    claimed_by=consumer,
                    claimed_until=now + self._lease,
                    attempts=InboxDelivery.attempts + 1,
                )
                .returning(InboxDelivery.id, InboxDelivery.body)
            )
            claimed = sorted(rows.all())
        return [QueuedDelivery(str(row_id), body) for row_id, body in claimed]

    async def ack(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        async with self._writers.turn(), self._sessions.begin() as session:
            await session.execute(
                delete(InboxDelivery).where(InboxDelivery.id.in_([int(i) for i in ids]))
            )

    async def depth(self) -> int:
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(InboxDelivery)) or 0)

    async def close(self) -> None:
        await self._writes.close()

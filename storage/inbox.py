"""The embedded queue: an `inbox` table, leased to consumers (SQLite or PostgreSQL).

On SQLite the inbox has a file of its own beside the database (`livecart.db` ->
`livecart.inbox.db`, see `SqlInbox.beside`): SQLite lets one transaction write to a file at a
time, and a webhook's 200 must not wait for a pipeline batch's transaction to commit. A group of
deliveries goes into that file in one trip to a thread of its own (`SqliteAppends`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Connection, Table, delete, func, insert, inspect, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.db import WriterTurns, chunked, create_engine, insert_rows, session_factory
from storage.group_commit import GroupCommit
from storage.models import InboxDelivery, InboxParked
from storage.queue import ParkedDelivery, QueuedDelivery
from storage.sqlite_appends import SqliteAppends
from storage.types import utcnow

log = logging.getLogger("livecart.inbox")
LEASE = timedelta(seconds=60)
_ADOPT_CHUNK = 500
# Core table: a delivery is a plain row, written without the ORM's per-row bulk layer.
INBOX = cast(Table, InboxDelivery.__table__)
PARKED = cast(Table, InboxParked.__table__)
# A group as one statement (the bodies as one array, in arrival order), atomic by itself: no
# BEGIN or COMMIT round trips.
_POSTGRESQL_INSERT = (
    "INSERT INTO inbox (body, received_at, attempts) "
    "SELECT body, $2, 0 FROM unnest($1::bytea[]) WITH ORDINALITY AS rows (body, n) ORDER BY n"
)


class SqlInbox:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        lease: timedelta = LEASE,
        owns_engine: bool = False,
    ) -> None:
        self._engine = engine
        self._owns_engine = owns_engine
        # SQLite: the inbox file's own writers (webhook inserts first, then claims and acks).
        self._writers = WriterTurns(engine)
        self._sessions = session_factory(engine)
        # PostgreSQL: consumers skip each other's rows, and a group commits without a
        # transaction; SQLite has one writer, and a group goes in on a connection of its own.
        self._postgresql = engine.dialect.name == "postgresql"
        self._lease = lease
        self._arrived = asyncio.Event()
        self._writes: GroupCommit[bytes] = GroupCommit(self._insert)
        self._appends = (
            None if self._postgresql else SqliteAppends(engine.url.database, INBOX, engine.dialect)
        )
        # PostgreSQL: the connection groups are inserted on, in autocommit (one write at a time).
        self._writer: AsyncConnection | None = None

    @classmethod
    async def beside(cls, database: AsyncEngine, url: str) -> SqlInbox:
        """An inbox in a SQLite file of its own at `url`, beside the `database` engine's file.

        Deliveries that an earlier version queued in the database's own inbox table (or that
        arrived there while this file was missing) move over first, oldest first."""
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(_create_inbox_table)
        inbox = cls(engine, owns_engine=True)
        await inbox._adopt(database)
        return inbox

    @classmethod
    def in_database(cls, url: str) -> SqlInbox:
        """PostgreSQL: the inbox in the database itself, on an engine of its own that lends
        connections without pinging them first (the ping is three round trips: BEGIN, `;`,
        ROLLBACK). Groups go in on one connection kept for them, opened again once when the
        server dropped it. A claim or ack on a dropped connection fails: the worker takes
        again, and an unacknowledged batch comes back when its lease ends. The engine keeps up
        to 8 connections of its own, beside the database engine's 20."""
        return cls(create_engine(url, pool_size=4, pre_ping=False), owns_engine=True)

    async def _adopt(self, database: AsyncEngine) -> None:
        async with database.connect() as connection:
            left = (
                await connection.execute(
                    select(INBOX.c.id, INBOX.c.body, INBOX.c.received_at).order_by(INBOX.c.id)
                )
            ).all()
        if not left:
            return
        for chunk in chunked(left, _ADOPT_CHUNK):
            # Written here before deleted there: a crash in between queues a delivery twice,
            # and the comments' unique key makes the second one change nothing.
            async with self._engine.begin() as connection:
                await insert_rows(
                    connection,
                    INBOX,
                    [{"body": body, "received_at": at} for _, body, at in chunk],
                    shared={"attempts": 0},
                )
            async with database.begin() as connection:
                await connection.execute(
                    delete(INBOX).where(INBOX.c.id.in_([row_id for row_id, _, _ in chunk]))
                )
        log.info("moved %d queued deliveries into the inbox's own file", len(left))

    async def put(self, body: bytes) -> None:
        await self._writes.submit(body)

    async def _insert(self, bodies: Sequence[bytes]) -> None:
        at = utcnow()
        if self._appends is None:
            await self._insert_in_postgresql(bodies, at)
        else:
            async with self._writers.turn(urgent=True):
                await self._appends.append(
                    [{"body": body} for body in bodies], shared={"received_at": at, "attempts": 0}
                )
        self._arrived.set()

    async def _insert_in_postgresql(self, bodies: Sequence[bytes], at: datetime) -> None:
        for attempt in range(2):
            writer = self._writer or await self._engine.connect()
            self._writer = writer
            try:
                # Straight to asyncpg on a connection kept for it: SQLAlchemy's compile, array
                # processing and pool checkout cost a group 0.23 ms of CPU, asyncpg 0.06 ms.
                driver = (await writer.get_raw_connection()).driver_connection
                assert driver is not None  # a checked-out connection has its driver's
                await driver.execute(_POSTGRESQL_INSERT, list(bodies), at)
                return
            except Exception as error:
                # Most likely a connection the server dropped (a restart, say), which asyncpg
                # reports in several ways depending on when it notices: the second try opens
                # a new one. Dropped after the server committed, the group goes in twice; the
                # comments' unique key makes the second copy change nothing, as with Meta's
                # own redeliveries.
                self._writer = None
                with contextlib.suppress(Exception):  # closing what is already broken
                    await writer.invalidate()
                if attempt:
                    raise
                log.warning("inbox insert failed (%s); trying once more on a new connection", error)

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
                .returning(
                    InboxDelivery.id,
                    InboxDelivery.body,
                    InboxDelivery.received_at,
                    InboxDelivery.attempts,
                )
            )
            claimed = sorted(rows.all())
        return [
            QueuedDelivery(str(row_id), body, received_at, attempts)
            for row_id, body, received_at, attempts in claimed
        ]

    async def ack(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        async with self._writers.turn(), self._sessions.begin() as session:
            await session.execute(
                delete(InboxDelivery).where(InboxDelivery.id.in_([int(i) for i in ids]))
            )

    async def park(self, failed: Sequence[tuple[QueuedDelivery, str]]) -> None:
        if not failed:
            return
        now = utcnow()
        async with self._writers.turn(), self._sessions.begin() as session:
            await session.execute(
                insert(PARKED),
                [
                    {
                        "body": d.body,
                        "attempts": d.attempts,
                        "error": error,
                        "parked_at": now,
                        "received_at": d.received_at,
                    }
                    for d, error in failed
                ],
            )
            await session.execute(
                delete(INBOX).where(INBOX.c.id.in_([int(d.id) for d, _ in failed]))
            )

    async def parked(self, limit: int) -> tuple[int, list[ParkedDelivery]]:
        async with self._sessions() as session:
            count = await session.scalar(select(func.count()).select_from(PARKED))
            rows = await session.execute(select(PARKED).order_by(PARKED.c.id).limit(limit))
        return int(count or 0), [
            ParkedDelivery(
                str(row.id), row.body, row.attempts, row.error, row.parked_at, row.received_at
            )
            for row in rows
        ]

    async def unpark(self) -> int:
        async with self._writers.turn(), self._sessions.begin() as session:
            rows = (
                await session.execute(
                    select(PARKED.c.id, PARKED.c.body, PARKED.c.received_at).order_by("id")
                )
            ).all()
            if not rows:
                return 0
            await session.execute(
                insert(INBOX),
                [{"body": body, "received_at": at, "attempts": 0} for _, body, at in rows],
            )
            await session.execute(
                delete(PARKED).where(PARKED.c.id.in_([row_id for row_id, _, _ in rows]))
            )
        self._arrived.set()
        return len(rows)

    async def depth(self) -> int:
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(InboxDelivery)) or 0)

    async def close(self) -> None:
        await self._writes.close()
        if self._appends is not None:
            await self._appends.close()
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        if self._owns_engine:
            await self._engine.dispose()


def _create_inbox_table(connection: Connection) -> None:
    # The inbox file holds only the queue's own tables; the database's schema is Alembic's.
    INBOX.create(connection, checkfirst=True)
    PARKED.create(connection, checkfirst=True)
    columns = {column["name"] for column in inspect(connection).get_columns(PARKED.name)}
    if "received_at" not in columns:
        # A file from before parked deliveries kept their arrival time (the database's own
        # table: migration 0005). Another process opening the file may add it first.
        with contextlib.suppress(OperationalError):
            connection.exec_driver_sql(
                "ALTER TABLE inbox_parked ADD COLUMN received_at DATETIME NOT NULL DEFAULT ''"
            )
    # Every open, in case an earlier one stopped between the two: the rows parked before the
    # column take the nearest time known of them.
    connection.exec_driver_sql(
        "UPDATE inbox_parked SET received_at = parked_at WHERE received_at = ''"
    )

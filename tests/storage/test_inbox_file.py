"""On SQLite the embedded queue has a file of its own: a webhook's delivery is stored while a
pipeline transaction holds the database's one write lock, and deliveries an earlier version
queued in the database's own inbox table are not lost."""

import asyncio
import shutil
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from bot.runtime import open_runtime
from bot.settings import Settings


def _migrated_database(sqlite_template: Path, folder: Path) -> Path:
    path = folder / "shop.db"
    shutil.copyfile(sqlite_template, path)
    return path


def _inbox_bodies(path: Path) -> list[bytes]:
    with closing(sqlite3.connect(path)) as connection:
        return [body for (body,) in connection.execute("SELECT body FROM inbox ORDER BY id")]


def test_the_inbox_file_sits_beside_a_sqlite_database_only() -> None:
    assert (
        Settings(database_url="sqlite+aiosqlite:////srv/shop/livecart.db").inbox_database_url
        == "sqlite+aiosqlite:////srv/shop/livecart.inbox.db"
    )
    assert Settings(database_url="sqlite+aiosqlite:///data").inbox_database_url == (
        "sqlite+aiosqlite:///data.inbox"
    )
    postgres = Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:5432/shop")
    assert postgres.inbox_database_url is None


async def test_a_delivery_is_stored_while_the_database_write_lock_is_held(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = _migrated_database(sqlite_template, tmp_path)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{database}")
    async with open_runtime(settings, migrate=False) as runtime:
        # What a pipeline batch does for its whole transaction: hold SQLite's write lock.
        locker = sqlite3.connect(database, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        try:
            # On the database's file this would wait out the 30 s busy timeout and fail.
            await asyncio.wait_for(runtime.queue.put(b"delivery"), timeout=20)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert _inbox_bodies(tmp_path / "shop.inbox.db") == [b"delivery"]
        assert _inbox_bodies(database) == []
        (taken,) = await runtime.queue.take("w1", 10, 0)
        assert taken.body == b"delivery"


async def test_deliveries_left_in_the_database_move_into_the_inbox_file(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = _migrated_database(sqlite_template, tmp_path)
    with closing(sqlite3.connect(database)) as connection, connection:  # commits, then closes
        connection.executemany(
            "INSERT INTO inbox (body, received_at, attempts) VALUES (?, ?, 0)",
            [(f"old-{n}".encode(), "2026-11-20 10:00:00.000000") for n in range(3)],
        )
    settings = Settings(database_url=f"sqlite+aiosqlite:///{database}")
    async with open_runtime(settings, migrate=False) as runtime:
        assert _inbox_bodies(database) == []
        await runtime.queue.put(b"new")
        taken = await runtime.queue.take("w1", 10, 0)
        assert [d.body for d in taken] == [b"old-0", b"old-1", b"old-2", b"new"]
    # A second start finds nothing left to move and keeps what is queued.
    async with open_runtime(settings, migrate=False) as runtime:
        assert await runtime.queue.depth() == 4


async def test_deliveries_parked_in_an_inbox_file_from_before_arrival_times_keep_their_parking_time(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = _migrated_database(sqlite_template, tmp_path)
    with closing(sqlite3.connect(tmp_path / "shop.inbox.db")) as connection, connection:
        # The inbox file's parked table as it was made before it kept arrival times.
        connection.execute(
            "CREATE TABLE inbox_parked (id INTEGER NOT NULL PRIMARY KEY, body BLOB NOT NULL,"
            " attempts INTEGER NOT NULL, error TEXT NOT NULL, parked_at DATETIME NOT NULL)"
        )
        connection.execute(
            "INSERT INTO inbox_parked (body, attempts, error, parked_at)"
            " VALUES (?, 5, 'ValueError: bad', '2026-11-20 10:00:00.000000')",
            (b"old",),
        )
    settings = Settings(database_url=f"sqlite+aiosqlite:///{database}")
    async with open_runtime(settings, migrate=False) as runtime:
        (parked,) = (await runtime.queue.parked(10))[1]
        assert parked.received_at == parked.parked_at == datetime(2026, 11, 20, 10, tzinfo=UTC)
        await runtime.queue.put(b"new")
        (new,) = await runtime.queue.take("w1", 10, 0)
        await runtime.queue.park([(new, "ValueError: bad too")])
        assert await runtime.queue.unpark() == 2
        taken = await runtime.queue.take("w1", 10, 0)
        assert [(d.body, d.received_at) for d in taken] == [
            (b"old", parked.received_at),
            (b"new", new.received_at),
        ]

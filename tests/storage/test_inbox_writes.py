"""How a group of webhook deliveries goes into the database inbox: on SQLite in one trip to a
thread of its own (stored exactly as SQLAlchemy stores a row, and all or nothing); on
PostgreSQL as one asyncpg statement on a connection kept for it, which is opened again once
when the server dropped it."""

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import make_url, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine, insert_rows
from storage.inbox import INBOX, SqlInbox
from storage.sqlite_appends import SqliteAppends
from storage.types import utcnow
from tests.conftest import _admin


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[tuple[Path, AsyncEngine]]:
    """A SQLite file with an (empty) inbox table, and an engine on it."""
    path = tmp_path / "shop.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as connection:
        await connection.run_sync(INBOX.create)
    yield path, engine
    await engine.dispose()


async def test_a_group_is_stored_as_sqlalchemy_stores_a_row(
    shop: tuple[Path, AsyncEngine], tmp_path: Path
) -> None:
    inbox = await SqlInbox.beside(shop[1], f"sqlite+aiosqlite:///{tmp_path / 'shop.inbox.db'}")
    before = utcnow()
    await asyncio.gather(*(inbox.put(f"delivery {n}".encode()) for n in range(5)))
    # A row written the ordinary way, for the stored form to be compared with.
    async with inbox._engine.begin() as connection:
        await insert_rows(connection, INBOX, [{"body": b"by sqlalchemy"}], shared={"attempts": 0})
        rows = (await connection.execute(select(INBOX).order_by(INBOX.c.id))).all()
    assert [row.body for row in rows] == [f"delivery {n}".encode() for n in range(5)] + [
        b"by sqlalchemy"
    ]
    assert all(row.attempts == 0 and row.claimed_until is None for row in rows)
    assert all(before <= row.received_at <= utcnow() for row in rows)
    with closing(sqlite3.connect(tmp_path / "shop.inbox.db")) as raw:
        stored = [at for (at,) in raw.execute("SELECT received_at FROM inbox ORDER BY id")]
    shape = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
    assert all(shape.match(at) for at in stored), stored
    await inbox.close()


async def test_a_failed_group_keeps_none_of_its_rows_and_the_next_goes_in(
    shop: tuple[Path, AsyncEngine], tmp_path: Path
) -> None:
    inbox_path = tmp_path / "shop.inbox.db"
    inbox = await SqlInbox.beside(shop[1], f"sqlite+aiosqlite:///{inbox_path}")
    with closing(sqlite3.connect(inbox_path)) as raw:
        raw.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON inbox WHEN NEW.body = X'626164' "
            "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
        )
    # One group: the first row goes in before the second fails.
    outcomes = await asyncio.gather(inbox.put(b"ok"), inbox.put(b"bad"), return_exceptions=True)
    assert all(isinstance(outcome, sqlite3.IntegrityError) for outcome in outcomes), outcomes
    await inbox.put(b"next")
    with closing(sqlite3.connect(inbox_path)) as raw:
        assert [body for (body,) in raw.execute("SELECT body FROM inbox")] == [b"next"]
    await inbox.close()


async def test_values_go_to_their_columns_whatever_order_they_are_given_in(
    shop: tuple[Path, AsyncEngine],
) -> None:
    path, engine = shop
    appends = SqliteAppends(str(path), INBOX, engine.dialect)
    at = utcnow()
    # Not the table's order (body, received_at, attempts), in the rows nor in `shared`.
    await appends.append([{"attempts": 3, "body": b"x"}], shared={"received_at": at})
    await appends.append([{"body": b"y"}], shared={"attempts": 4, "received_at": at})
    with pytest.raises(ValueError, match="no value given for attempts"):
        await appends.append([{"body": b"z"}], shared={"received_at": at})
    await appends.close()
    await appends.close()  # a second close changes nothing
    with pytest.raises(RuntimeError, match="closed"):
        await appends.append([{"body": b"late"}], shared={"received_at": at, "attempts": 0})
    async with engine.connect() as connection:
        rows = (await connection.execute(select(INBOX).order_by(INBOX.c.id))).all()
    assert [(row.body, row.attempts, row.received_at) for row in rows] == [
        (b"x", 3, at),
        (b"y", 4, at),
    ]


async def test_a_group_larger_than_one_statement_goes_in_whole_and_in_order(
    shop: tuple[Path, AsyncEngine],
) -> None:
    path, engine = shop
    appends = SqliteAppends(str(path), INBOX, engine.dialect)
    # 252,000 values: more than one statement takes (Debian's SQLite: 250,000)
    bodies = [f"delivery {n}".encode() for n in range(84_000)]
    shared = {"received_at": utcnow(), "attempts": 0}
    await appends.append([{"body": body} for body in bodies], shared=shared)
    await appends.close()
    with closing(sqlite3.connect(path)) as raw:
        assert [body for (body,) in raw.execute("SELECT body FROM inbox ORDER BY id")] == bodies


def test_an_inbox_needs_a_sqlite_file() -> None:
    with pytest.raises(ValueError, match="needs a database file"):
        SqlInbox(create_engine("sqlite+aiosqlite://"))


async def _drop_connections_to(url: str) -> None:
    """What a PostgreSQL restart does to a pool: every connection to the database is closed."""
    name = make_url(url).database
    await _admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")


async def test_a_postgresql_group_on_a_dropped_connection_is_tried_once_more(
    postgres_url: str,
) -> None:
    url = postgres_url
    inbox = SqlInbox.in_database(url)
    started = utcnow()
    await inbox.put(b"before")  # the inbox now holds an open connection
    await _drop_connections_to(url)
    await inbox.put(b"after")
    reader = create_engine(url)
    async with reader.connect() as connection:
        rows = (await connection.execute(select(INBOX).order_by(INBOX.c.id))).all()
    await reader.dispose()
    assert [(row.body, row.attempts, row.claimed_until) for row in rows] == [
        (b"before", 0, None),
        (b"after", 0, None),
    ]
    assert all(started <= row.received_at <= utcnow() for row in rows)
    taken = await inbox.take("w1", 10, 0)
    assert [delivery.body for delivery in taken] == [b"before", b"after"]
    await inbox.close()


async def test_a_postgresql_group_fails_when_the_second_try_fails_too(
    postgres_url: str,
) -> None:
    url = postgres_url
    inbox = SqlInbox.in_database(url)
    await inbox.put(b"before")
    await _drop_connections_to(url)
    await _admin(f'ALTER DATABASE "{make_url(url).database}" ALLOW_CONNECTIONS false')
    try:
        with pytest.raises(DBAPIError):
            await asyncio.wait_for(inbox.put(b"refused"), timeout=20)
    finally:
        await _admin(f'ALTER DATABASE "{make_url(url).database}" ALLOW_CONNECTIONS true')
    await inbox.put(b"after")
    assert [delivery.body for delivery in await inbox.take("w1", 10, 0)] == [b"before", b"after"]
    await inbox.close()

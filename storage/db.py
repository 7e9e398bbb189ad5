"""Engines and sessions: SQLite (WAL) as the embedded default, PostgreSQL in production."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import sys
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from functools import cache
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    Executable,
    Table,
    Text,
    bindparam,
    cast,
    event,
    func,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import Insert as PostgresqlInsert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.dml import Update

from storage.models import Base

T = TypeVar("T")
log = logging.getLogger("livecart.db")
SessionFactory = async_sessionmaker[AsyncSession]
Insert = PostgresqlInsert | SqliteInsert


def create_engine(database_url: str, *, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    """`pre_ping`: PostgreSQL checks a pooled connection before lending it (on asyncpg, three
    round trips: BEGIN, `;`, ROLLBACK), so a restarted server costs no failed statement."""
    # JSON columns (outbox payloads, readings, review candidates) are written a row per
    # comment: orjson, not the standard library's encoder.
    json_codec = {"json_serializer": _json_text, "json_deserializer": orjson.loads}
    if database_url.startswith("sqlite"):
        engine = create_async_engine(database_url, connect_args={"timeout": 30}, **json_codec)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        **json_codec,
    )


def _json_text(value: object) -> str:
    # Non-string keys become strings, as the standard library's encoder does.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


class WriterTurns:
    """SQLite lets one transaction write at a time, and a writer that finds the lock taken
    sleeps in SQLite's busy handler (up to 100 ms a try): under a burst, webhook acks waited
    behind those sleeps. This process's writers to one file take turns here instead, each woken
    the moment the one before it commits; an urgent writer (on the inbox's own file, a webhook
    waiting for its 200) goes before the others. PostgreSQL has no such lock: every turn is
    free there."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._serial = engine.dialect.name == "sqlite"
        self._busy = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._others: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def turn(self, *, urgent: bool = False) -> AsyncIterator[None]:
        if not self._serial:
            yield
            return
        await self._wait(self._urgent if urgent else self._others)
        try:
            yield
        finally:
            self._hand_on()

    async def _wait(self, line: deque[asyncio.Future[None]]) -> None:
        if not self._busy:
            self._busy = True
            return
        waiting = asyncio.get_running_loop().create_future()
        line.append(waiting)
        try:
            await waiting
        except asyncio.CancelledError:
            if waiting.done() and not waiting.cancelled():
                self._hand_on()  # the turn reached us as we were cancelled: pass it on
            raise

    def _hand_on(self) -> None:
        for line in (self._urgent, self._others):
            while line:
                waiting = line.popleft()
                if not waiting.done():
                    waiting.set_result(None)
                    return
        self._busy = False


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    apply_sqlite_pragmas(dbapi_connection)


def apply_sqlite_pragmas(dbapi_connection: DBAPIConnection | sqlite3.Connection) -> None:
    # WAL lets readers run beside the one writer; NORMAL is durable across process crashes.
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA foreign_keys=ON",
        "PRAGMA busy_timeout=30000",
    ):
        cursor.execute(pragma)
    cursor.close()


def insert_ignoring_duplicates(dialect: str, table: type[Base] | Table) -> Insert:
    """INSERT that skips rows whose unique key is already there (both dialects say it alike).

    A Core statement on the mapped table: the ORM's bulk layer adds a cost per row, and these
    inserts only ever take plain rows."""
    target = table if isinstance(table, Table) else table.__table__
    statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(target)
    return statement.on_conflict_do_nothing()


# PostgreSQL's deadlock_detected, serialization_failure and unique_violation (a concurrent
# transaction inserted the same unique row first: both opened a cart for one buyer), and
# SQLite's unique constraint (another connection wrote the same key first, as two requests
# with one idempotency key do): the transaction lost a race, was rolled back, and can simply
# run again.
_LOST_A_RACE = frozenset({"40P01", "40001", "23505"})
_SQLITE_LOST_A_RACE = frozenset({"SQLITE_CONSTRAINT_UNIQUE"})
# A transaction that loses races runs this many times in all, after a random pause of up to
# RACE_PAUSE seconds times the tries so far (so the two racers do not meet again).
RACE_ATTEMPTS = 4
RACE_PAUSE = 0.05


def lost_a_race(error: BaseException) -> bool:
    """Whether `error` rolled a transaction back for a concurrent one's sake (worth a retry)."""
    if not isinstance(error, DBAPIError):
        return False
    return (
        getattr(error.orig, "sqlstate", None) in _LOST_A_RACE
        or getattr(error.orig, "sqlite_errorname", None) in _SQLITE_LOST_A_RACE
    )


async def retrying_races(transaction: Callable[[], Awaitable[T]], what: str) -> T:
    """`transaction()`, run again while it loses races with concurrent ones (RACE_ATTEMPTS
    times in all); anything else, or the last try's race, is raised."""
    for attempt in range(1, RACE_ATTEMPTS):
        try:
            return await transaction()
        except Exception as error:
            if not lost_a_race(error):
                raise
            log.info("%s lost a race with a concurrent transaction; again", what)
            await asyncio.sleep(random.uniform(0, RACE_PAUSE * attempt))  # noqa: S311 - jitter, not a secret
    return await transaction()


Column = InstrumentedAttribute[Any] | ColumnElement[Any]


def among(
    dialect: str, columns: Sequence[Column], keys: Sequence[tuple[object, ...]]
) -> ColumnElement[bool]:
    """`(columns) IN keys`. PostgreSQL checks a long list of row values against every row its
    index finds (1,000 comment keys: 310 ms); there the keys go in as one array per column,
    unnested (5 ms), which is also one prepared statement for every number of keys."""
    if dialect != "postgresql":
        return tuple_(*columns).in_(keys)
    names = [f"k{n}" for n in range(len(columns))]
    arrays = [
        bindparam(None, [key[n] for key in keys], type_=ARRAY(column.type))
        for n, column in enumerate(columns)
    ]
    unnested = func.unnest(*arrays).table_valued(*names).render_derived(name="keys")
    return tuple_(*columns).in_(select(*(unnested.c[name] for name in names)))


Row = Mapping[str, object]
# Where rows are written: a session's transaction, or a connection of its own (the inbox).
Executor = AsyncSession | AsyncConnection


async def insert_rows(
    executor: Executor,
    table: Table,
    rows: Sequence[Row],
    *,
    shared: Row | None = None,
    skip_duplicates: bool = False,
) -> None:
    """Insert `rows` (dicts with the same keys), each with the values of `shared` too; with
    `skip_duplicates`, a row whose unique key is already there is left out.

    PostgreSQL runs an executemany as one execution per row (20 us of server CPU for an
    outbox row); there the rows go in as one array per column, unnested (12 us a row), one
    prepared statement for every number of rows, and `shared` values go in once."""
    await _insert(executor, table, rows, shared or {}, skip_duplicates, ())


async def insert_new_rows(
    executor: Executor, table: Table, rows: Sequence[Row], returning: Sequence[Column]
) -> list[tuple[object, ...]]:
    """Insert the rows whose unique key is not there yet, as `insert_rows` does, and return
    the `returning` columns of those it inserted (in no promised order)."""
    return await _insert(executor, table, rows, {}, True, tuple(returning))


async def insert_returning(
    executor: Executor,
    table: Table,
    rows: Sequence[Row],
    returning: Sequence[Column],
    *,
    shared: Row | None = None,
) -> list[tuple[object, ...]]:
    """Insert `rows` as `insert_rows` does (a duplicate unique key raises) and return the
    `returning` columns of each (in no promised order)."""
    return await _insert(executor, table, rows, shared or {}, False, tuple(returning))


async def _insert(
    executor: Executor,
    table: Table,
    rows: Sequence[Row],
    shared: Row,
    skip_duplicates: bool,
    returning: tuple[Column, ...],
) -> list[tuple[object, ...]]:
    if not rows:
        return []
    dialect = dialect_of(executor)
    if dialect != "postgresql":
        many = insert_ignoring_duplicates(dialect, table) if skip_duplicates else insert(table)
        if returning:
            many = many.returning(*returning)
        result = await executor.execute(many, [{**row, **shared} for row in rows])
    else:
        names = tuple(rows[0])
        statement = _array_insert(table, names, tuple(shared), skip_duplicates, returning)
        params = _column_arrays(table, names, rows)
        params.update({f"_{name}": value for name, value in shared.items()})
        result = await executor.execute(statement, params)
    return [tuple(row) for row in result.all()] if returning else []


async def update_rows(executor: Executor, table: Table, key: str, rows: Sequence[Row]) -> None:
    """Set each row's other columns on the row of `table` whose `key` column equals its `key`
    (dicts with the same keys): one execution on PostgreSQL, as `insert_rows`."""
    if not rows:
        return
    names = tuple(rows[0])
    if dialect_of(executor) != "postgresql":
        statement = _update_by_key(table, key, names)
        await executor.execute(statement, [{f"_{k}": v for k, v in row.items()} for row in rows])
        return
    await executor.execute(_array_update(table, key, names), _column_arrays(table, names, rows))


# Statements are built once per table and set of columns; every call binds new values.
@cache
def _array_insert(
    table: Table,
    names: tuple[str, ...],
    shared: tuple[str, ...],
    skip_duplicates: bool,
    returning: tuple[Column, ...],
) -> Executable:
    columns, position = unnested(table, names)
    values = [
        *columns.values(),
        *(bindparam(f"_{name}", type_=table.c[name].type) for name in shared),
    ]
    # In the rows' order, so new ids follow it (comments and deliveries: arrival order).
    rows = select(*values).order_by(position)
    statement = postgresql_insert(table).from_select([*names, *shared], rows)
    if skip_duplicates:
        statement = statement.on_conflict_do_nothing()
    return statement.returning(*returning) if returning else statement


@cache
def _array_update(table: Table, key: str, names: tuple[str, ...]) -> Update:
    columns, _ = unnested(table, names)
    changed = {name: columns[name] for name in names if name != key}
    return update(table).where(table.c[key] == columns[key]).values(changed)


@cache
def _update_by_key(table: Table, key: str, names: tuple[str, ...]) -> Update:
    # Bound names must differ from column names in an UPDATE's SET.
    changed = {name: bindparam(f"_{name}") for name in names if name != key}
    return update(table).where(table.c[key] == bindparam(f"_{key}")).values(changed)


def unnested(
    table: Table, names: Sequence[str]
) -> tuple[dict[str, ColumnElement[Any]], ColumnElement[int]]:
    """One array parameter per column (`_name`), unnested: each column's values by name, and
    each row's position. A JSON value goes in as text and is cast back: an array would take a
    list value for a dimension of its own."""
    arrays = [
        bindparam(f"_{name}", type_=ARRAY(Text() if _is_json(table, name) else table.c[name].type))
        for name in names
    ]
    unnested = (
        func.unnest(*arrays)
        .table_valued(*names, with_ordinality="position")
        .render_derived(name="rows")
    )
    columns = {
        name: cast(unnested.c[name], JSON) if _is_json(table, name) else unnested.c[name]
        for name in names
    }
    return columns, unnested.c.position


def _column_arrays(table: Table, names: Sequence[str], rows: Sequence[Row]) -> dict[str, object]:
    arrays: dict[str, object] = {}
    for name in names:
        values = [row[name] for row in rows]
        if _is_json(table, name):
            values = [None if value is None else _json_text(value) for value in values]
        arrays[f"_{name}"] = values
    return arrays


def _is_json(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, JSON)


def key_chunks(dialect: str, keys: Iterable[T], size: int) -> Iterator[list[T]]:
    """`keys` for `among`, as many to a statement as the database takes: all of them on
    PostgreSQL (one array per column, whatever their number), at most `size` elsewhere (each
    key is bound parameters there)."""
    return chunked(keys, sys.maxsize if dialect == "postgresql" else size)


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of at most `size` items (bound parameters per statement stay under the limits)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def dialect_of(executor: Executor) -> str:
    bind = executor.get_bind() if isinstance(executor, AsyncSession) else executor
    return bind.dialect.name

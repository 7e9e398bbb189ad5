"""Appending rows to a SQLite table in one trip to a thread of its own.

Through SQLAlchemy and aiosqlite, one small transaction is five trips between the event loop
and aiosqlite's thread (cursor, executemany, close, commit, rollback), and a busy loop makes
each trip wait its turn: a group of 32 webhook deliveries took 2 ms to commit, of which SQLite
itself needed 0.2 ms. Here the whole transaction is one function run in the thread, on a plain
`sqlite3` connection with the engine's pragmas, and the rows go in as one multi-row INSERT (an
executemany takes and gives back the interpreter lock once per row).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import BindParameter, Table, bindparam, insert
from sqlalchemy.engine import Dialect

from storage.db import Row, apply_sqlite_pragmas, chunked

Bind = Callable[[object], object]
# Bound values per statement: SQLite before 3.32 takes at most 999.
_MOST_VALUES = 999


@dataclass(frozen=True, slots=True)
class _Statement:
    sql: str  # up to VALUES
    row: str  # one row's `(?, ?, ...)`
    names: tuple[str, ...]  # the order of a row's `?`s
    binds: tuple[Bind, ...]


class SqliteAppends:
    def __init__(self, path: str | None, table: Table, dialect: Dialect) -> None:
        if not path or path == ":memory:":
            raise ValueError("The SQLite inbox needs a database file, not an in-memory database.")
        # The connection opens at the first write: the same file whatever the folder is then.
        self._path = os.path.abspath(path)
        self._table = table
        self._dialect = dialect
        self._statements: dict[frozenset[str], _Statement] = {}
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-appends")
        self._connection: sqlite3.Connection | None = None
        self._closed = False

    async def append(self, rows: Sequence[Row], *, shared: Row) -> None:
        """Inserts `rows` (dicts with the same keys), each with the values of `shared` too, in
        one transaction; values are bound as SQLAlchemy binds them (a UTC datetime as text)."""
        if not rows:
            return
        if self._closed:
            raise RuntimeError("the SQLite appends are closed")
        statement = self._statement(frozenset(rows[0]) | frozenset(shared))
        columns = list(zip(statement.names, statement.binds, strict=True))
        same = {name: bind(shared[name]) for name, bind in columns if name in shared}
        inserts = [
            (
                statement.sql + ", ".join([statement.row] * len(chunk)),
                [
                    same[name] if name in same else bind(row[name])
                    for row in chunk
                    for name, bind in columns
                ],
            )
            for chunk in chunked(rows, max(1, _MOST_VALUES // len(columns)))
        ]
        await asyncio.get_running_loop().run_in_executor(self._thread, self._write, inserts)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=False)

    def _statement(self, names: frozenset[str]) -> _Statement:
        if names not in self._statements:
            values: dict[str, BindParameter[object]] = {
                name: bindparam(name) for name in sorted(names)
            }
            compiled = insert(self._table).values(values).compile(dialect=self._dialect)
            order = tuple(compiled.positiontup or ())
            if missing := set(order) - names:
                # A column with a Python-side default: SQLAlchemy would fill it in per row.
                raise ValueError(f"no value given for {', '.join(sorted(missing))}")
            binds = tuple(self._bind(name) for name in order)
            # `INSERT ... VALUES ` and one row's `(?, ?, ...)`, repeated for each row.
            head, row = str(compiled).split(" VALUES ")
            self._statements[names] = _Statement(f"{head} VALUES ", row, order, binds)
        return self._statements[names]

    def _bind(self, name: str) -> Bind:
        column_type = self._table.c[name].type.dialect_impl(self._dialect)
        process = column_type.bind_processor(self._dialect)
        return process if process is not None else _as_is

    def _write(self, inserts: list[tuple[str, list[object]]]) -> None:
        connection = self._connection or self._connect()
        try:
            for sql, values in inserts:
                connection.execute(sql, values)
            connection.commit()
        except BaseException:
            connection.rollback()
            raise

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, timeout=30)
        try:
            apply_sqlite_pragmas(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _as_is(value: object) -> object:
    return value

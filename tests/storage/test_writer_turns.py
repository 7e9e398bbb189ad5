"""SQLite writers of one process take turns: urgent ones first, a cancelled waiter skipped."""

import asyncio
from pathlib import Path

from storage.db import WriterTurns, create_engine


def sqlite_turns(tmp_path: Path) -> WriterTurns:
    return WriterTurns(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}"))


async def _writer(
    turns: WriterTurns, name: str, order: list[str], *, urgent: bool = False, hold: float = 0
) -> None:
    async with turns.turn(urgent=urgent):
        order.append(f"{name} in")
        await asyncio.sleep(hold)
        order.append(f"{name} out")


async def test_one_writer_at_a_time_and_urgent_ones_go_first(tmp_path: Path) -> None:
    turns, order = sqlite_turns(tmp_path), []
    first = asyncio.create_task(_writer(turns, "batch-1", order, hold=0.05))
    await asyncio.sleep(0.01)
    waiting = [
        asyncio.create_task(_writer(turns, "batch-2", order)),
        asyncio.create_task(_writer(turns, "webhook", order, urgent=True)),
    ]
    await asyncio.gather(first, *waiting)
    assert order == [
        "batch-1 in",
        "batch-1 out",
        "webhook in",
        "webhook out",
        "batch-2 in",
        "batch-2 out",
    ]


async def test_a_cancelled_waiter_does_not_keep_the_turn(tmp_path: Path) -> None:
    turns, order = sqlite_turns(tmp_path), []
    first = asyncio.create_task(_writer(turns, "first", order, hold=0.05))
    await asyncio.sleep(0.01)
    gone = asyncio.create_task(_writer(turns, "gone", order))
    last = asyncio.create_task(_writer(turns, "last", order))
    await asyncio.sleep(0.01)
    gone.cancel()
    await asyncio.wait_for(asyncio.gather(first, last), timeout=2)
    assert order == ["first in", "first out", "last in", "last out"]
    async with asyncio.timeout(1), turns.turn():  # and the turn is free again
        pass


async def test_postgresql_writers_do_not_wait(database_url: str, backend: str) -> None:
    turns, order = WriterTurns(create_engine(database_url)), []
    await asyncio.gather(
        _writer(turns, "a", order, hold=0.05), _writer(turns, "b", order, hold=0.05)
    )
    together = ["a in", "b in", "a out", "b out"]
    assert (order == together) == (backend == "postgresql")

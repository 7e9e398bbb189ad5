"""A delivery that fails every time leaves the queue for the parked list instead of failing its
batch forever; the deliveries queued with it order as usual. The failure is the database's own:
a trigger refuses one comment's row, as PostgreSQL refuses a value it cannot store."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.fakes.meta_webhooks import envelope, signed_body
from bot.pipeline import Pipeline
from bot.processing import CommentProcessor
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from bot.workers import PARK_AFTER, consume, parked_alert
from storage.db import WriterTurns, create_engine, session_factory
from storage.inbox import SqlInbox
from storage.models import Comment, OutboxMessage
from storage.queue import DeliveryQueue, QueuedDelivery
from storage.stream import RedisStreamQueue
from storage.types import utcnow
from tests.cli import clean_env, livecart
from tests.pipeline import PAGE, comment_changes, comment_on, drain, start_test_live

POISON = "refused by the database"
_POSTGRESQL_TRIGGER = (
    f"""CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN
       IF NEW.text = '{POISON}' THEN RAISE EXCEPTION 'poisoned comment'; END IF; RETURN NEW;
       END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER refuse_poison BEFORE INSERT ON comments "
    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
)
_SQLITE_TRIGGER = (
    f"CREATE TRIGGER refuse_poison BEFORE INSERT ON comments WHEN NEW.text = '{POISON}' "
    "BEGIN SELECT RAISE(ABORT, 'poisoned comment'); END",
)


async def _refuse_poison(runtime: Runtime) -> None:
    postgresql = runtime.engine.dialect.name == "postgresql"
    async with runtime.engine.begin() as connection:
        for statement in _POSTGRESQL_TRIGGER if postgresql else _SQLITE_TRIGGER:
            await connection.execute(text(statement))


async def _accept_poison(runtime: Runtime) -> None:
    postgresql = runtime.engine.dialect.name == "postgresql"
    async with runtime.engine.begin() as connection:
        await connection.execute(
            text("DROP TRIGGER refuse_poison" + (" ON comments" if postgresql else ""))
        )


@pytest.fixture
async def quick_queue(runtime: Runtime) -> AsyncIterator[DeliveryQueue]:
    """The runtime's queue, with failed deliveries coming back within a tenth of a second."""
    queue: DeliveryQueue
    if runtime.redis is not None:
        queue = RedisStreamQueue(runtime.redis, runtime.keys, reclaim_after=0.1)
    else:
        url = runtime.settings.inbox_database_url or runtime.settings.database_url
        queue = SqlInbox(create_engine(url), lease=timedelta(milliseconds=100), owns_engine=True)
    yield queue
    await queue.close()


async def _deliver(runtime: Runtime, start: int, *authored: tuple[str, str]) -> None:
    changes = comment_changes(list(authored), start=start)
    await runtime.queue.put(signed_body(envelope("page", [(PAGE, changes)]), "x")[0])


async def _statuses(runtime: Runtime) -> dict[str, str]:
    async with runtime.sessions() as session:
        rows = await session.execute(select(Comment.author_id, Comment.parse_status))
    return {author: status for author, status in rows.all() if author}


async def test_a_delivery_failing_every_time_is_parked_and_its_batch_mates_order(
    runtime: Runtime, quick_queue: DeliveryQueue
) -> None:
    await start_test_live(runtime)
    await _refuse_poison(runtime)
    await _deliver(runtime, 1, ("u1", "B3+1"))
    await _deliver(runtime, 2, ("u2", POISON), ("u3", "B3+2"))
    await _deliver(runtime, 4, ("u4", "B3+1"))
    stop = asyncio.Event()
    worker = asyncio.create_task(
        consume(
            quick_queue,
            Pipeline.for_runtime(runtime),
            "w1",
            stop,
            batch=10,
            wait=0.05,
            retry_pause=0.05,
        )
    )
    try:
        async with asyncio.timeout(60):
            while (await quick_queue.parked(10))[0] == 0:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await worker
    count, (parked,) = await quick_queue.parked(10)
    assert count == 1
    assert parked.attempts == PARK_AFTER
    assert "poisoned comment" in parked.error
    assert await quick_queue.depth() == 0
    assert await _statuses(runtime) == {"u1": "order", "u4": "order"}
    async with runtime.sessions() as session:
        alerts = (
            await session.scalars(
                select(OutboxMessage.payload).where(OutboxMessage.kind == "staff_alert")
            )
        ).all()
    assert [a["alert"] for a in alerts] == ["delivery_parked"]
    assert "poisoned comment" in str(alerts[0]["text"])
    assert "`livecart inbox retry`" in str(alerts[0]["text"])

    # Once what refused it is fixed, staff queue it again and it orders like any other.
    await _accept_poison(runtime)
    assert await quick_queue.unpark() == 1
    await drain(runtime)
    assert await _statuses(runtime) == {"u1": "order", "u2": "none", "u3": "order", "u4": "order"}
    assert (await quick_queue.parked(10))[0] == 0


async def test_a_database_that_does_not_answer_parks_nothing(
    runtime: Runtime, quick_queue: DeliveryQueue
) -> None:
    await _deliver(runtime, 1, ("u1", "B3+1"))
    nowhere = create_engine("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    down = Pipeline(
        session_factory(nowhere),
        CommentProcessor(runtime.settings, runtime.stock, runtime.checkout_secret),
        replay_window=runtime.settings.replay_window,
        writers=WriterTurns(nowhere),
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(
        consume(quick_queue, down, "w1", stop, batch=10, wait=0.05, retry_pause=0.05)
    )
    try:
        await asyncio.sleep(0.15 * (PARK_AFTER + 3))
    finally:
        stop.set()
        await worker
        await nowhere.dispose()
    await asyncio.sleep(0.15)
    (again,) = await quick_queue.take("w2", 10, 0)
    assert again.attempts > PARK_AFTER
    assert (await quick_queue.parked(10))[0] == 0


async def _park_one(database_url: str) -> None:
    async with open_runtime(Settings(database_url=database_url), migrate=False) as runtime:
        await runtime.queue.put(b'{"object": "page", "entry": []}')
        await runtime.queue.put(b"waiting")
        taken = await runtime.queue.take("w1", 1, 0)
        await runtime.queue.park([(taken[0], "DataError: invalid byte sequence\nDETAIL: more")])


def test_inbox_status_and_retry_as_a_person_runs_them(database_url: str, tmp_path: Path) -> None:
    asyncio.run(_park_one(database_url))
    env = clean_env(DATABASE_URL=database_url)
    status = livecart("inbox", "status", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    first, second = status.stdout.strip().splitlines()
    assert first == "1 deliveries queued, 1 parked"
    assert second.endswith("after 1 attempts (31 bytes): DataError: invalid byte sequence")
    retry = livecart("inbox", "retry", env=env, cwd=tmp_path)
    assert retry.returncode == 0, retry.stderr
    assert retry.stdout.strip() == "1 parked deliveries are queued again"
    again = livecart("inbox", "status", env=env, cwd=tmp_path)
    assert again.stdout.strip() == "2 deliveries queued, 0 parked"


async def test_a_nul_in_a_comment_is_dropped_and_the_comment_orders(runtime: Runtime) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "B3+1\x00"), ("u2", "B3+1")])
    assert await _statuses(runtime) == {"u1": "order", "u2": "order"}


def test_each_parking_has_an_alert_of_its_own() -> None:
    """SQLite gives queue ids again once the inbox is empty: an alert keyed by one would be
    taken for an earlier parking's and never sent."""
    parked = [(QueuedDelivery("1", b"x", utcnow(), PARK_AFTER), "DataError: no")]
    (first, payload), (second, _) = parked_alert(parked), parked_alert(parked)
    assert first != second
    assert payload["alert"] == "delivery_parked" and "DataError: no" in str(payload["text"])

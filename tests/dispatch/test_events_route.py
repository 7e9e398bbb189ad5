"""`GET /api/events` through the real application (staff auth and JSON errors by its
middlewares) on the real composition root, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from storage.db import SessionFactory
from storage.models import OutboxMessage
from storage.outbox import EventsBusy, Outgoing, add_outbox, events_after
from tests.dispatch.support import PAGE, add_replies, add_store_events
from webhooks.app import build_app

STAFF = "events-staff-token"
AUTH = {"Authorization": f"Bearer {STAFF}"}
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    settings = Settings(database_url=database_url, staff_token=STAFF)
    async with open_runtime(settings, migrate=False) as opened:
        yield opened


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app(runtime))) as test_client:
        yield test_client


async def get(client: Client, query: str, headers: dict[str, str] = AUTH) -> tuple[int, Any]:
    response = await client.get(f"/api/events{query}", headers=headers)
    return response.status, await response.json()


async def test_pages_through_the_order_events(client: Client, runtime: Runtime) -> None:
    await add_replies(runtime.sessions, PAGE, ["not-an-event"])
    ids = await add_store_events(
        runtime.sessions, [(5, "order.reserved"), (6, "order.reserved"), (5, "order.confirmed")]
    )
    status, first = await get(client, "?limit=2")
    assert status == 200
    assert [e["id"] for e in first["events"]] == ids[:2]
    assert first["next_after"] == ids[1]
    event = first["events"][0]
    assert set(event) == {"id", "event", "order_id", "occurred_at", "data"}
    assert (event["event"], event["order_id"], event["data"]) == (
        "order.reserved",
        5,
        {"n": 0, "total": "12.50"},
    )
    assert event["occurred_at"].endswith("+00:00")
    status, rest = await get(client, f"?after={first['next_after']}")
    assert [e["id"] for e in rest["events"]] == ids[2:]
    status, empty = await get(client, f"?after={rest['next_after']}")
    assert (status, empty) == (200, {"events": [], "next_after": ids[2]})


@pytest.mark.parametrize(
    "query",
    [
        "?after=abc",
        "?after=-1",
        "?after=1.5",
        "?after=%C2%B2",
        "?limit=0",
        "?limit=5000",
        "?after=" + "9" * 30,
    ],
)
async def test_bad_parameters_are_a_400_with_one_sentence(client: Client, query: str) -> None:
    status, body = await get(client, query)
    assert status == 400
    assert set(body) == {"error"} and body["error"].endswith(".")


async def test_staff_only(client: Client) -> None:
    status, body = await get(client, "", headers={})
    assert status == 401 and "staff token" in body["error"]


def _event(order_id: int, n: int) -> Outgoing:
    return Outgoing(
        "store_event", f"commit-order:{n}", f"order:{order_id}", {"event": "x", "order_id": n}
    )


async def _event_ids(sessions: SessionFactory) -> list[int]:
    async with sessions() as session:
        ids = await session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.kind == "store_event")
        )
        return sorted(ids.all())


# SQLite has one writer at a time: its ids are drawn in commit order, and a read never waits.
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_reader_never_passes_an_event_whose_transaction_is_still_open(
    client: Client, runtime: Runtime
) -> None:
    """Event 1's transaction draws its id first and commits last. A read in between waits for
    it instead of answering event 2 alone (whose `next_after` would skip event 1)."""
    async with runtime.sessions.begin() as slow:
        await add_outbox(slow, [_event(1, 1)])
        async with runtime.sessions.begin() as quick:
            await add_outbox(quick, [_event(2, 2)])
        read = asyncio.create_task(get(client, ""))
        await asyncio.sleep(0.3)
        assert not read.done()
    status, page = await read
    assert status == 200
    assert [e["id"] for e in page["events"]] == await _event_ids(runtime.sessions)
    assert len(page["events"]) == 2


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_reader_kept_waiting_too_long_is_told_to_ask_again(runtime: Runtime) -> None:
    async with runtime.sessions.begin() as writing:
        await add_outbox(writing, [_event(1, 1)])
        async with runtime.sessions() as reading:
            with pytest.raises(EventsBusy, match="ask again"):
                await events_after(reading, 0, 10, wait=timedelta(milliseconds=100))

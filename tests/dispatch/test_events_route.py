"""`GET /api/events` through the real application (staff auth and JSON errors by its
middlewares) on the real composition root, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
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
    ["?after=abc", "?after=-1", "?after=1.5", "?limit=0", "?limit=5000", "?after=" + "9" * 30],
)
async def test_bad_parameters_are_a_400_with_one_sentence(client: Client, query: str) -> None:
    status, body = await get(client, query)
    assert status == 400
    assert set(body) == {"error"} and body["error"].endswith(".")


async def test_staff_only(client: Client) -> None:
    status, body = await get(client, "", headers={})
    assert status == 401 and "staff token" in body["error"]

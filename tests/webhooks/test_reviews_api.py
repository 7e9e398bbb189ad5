"""The review queue through the staff API: a decision orders through the same path, once."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.runtime import Runtime
from storage.models import OutboxMessage
from tests.pipeline import comment_on, start_test_live
from tests.test_ordering import block, cart, stock_of
from tests.webhooks.test_staff_api import AUTH
from webhooks.app import build_app

Client = TestClient[object, object]


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app(runtime))) as test_client:
        yield test_client


async def reply_texts(runtime: Runtime) -> list[str]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.kind == "reply")
        )
        return [str(row["text"]) for row in rows]


async def test_a_chosen_reading_orders_and_replies(client: Client, runtime: Runtime) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A1+2"), ("u2", "Z9+1")])
    waiting = await (await client.get("/api/reviews", headers=AUTH)).json()
    assert [w["comment"]["text"] for w in waiting] == ["A1+2", "Z9+1"]
    assert waiting[0]["options"] == ["A1-RED-M x2", "A1-RED-L x2", "A1-BLU-M x2", "A1-BLU-L x2"]
    assert waiting[0]["reason"]
    chosen = await client.post(
        f"/api/reviews/{waiting[0]['id']}", headers=AUTH, json={"choice": 1, "staff": "Mei"}
    )
    assert (await chosen.json())["decision"] == "A1-RED-L x2"
    assert await cart(runtime, "u1") == {"A1-RED-L": 2}
    assert await stock_of(runtime, "A1-RED-L") == (20, 2, 18)
    rejected = await client.post(
        f"/api/reviews/{waiting[1]['id']}", headers=AUTH, json={"choice": "reject", "staff": "Mei"}
    )
    assert rejected.status == 200
    texts = await reply_texts(runtime)
    assert len(texts) == 2 and "A1-RED-L" in texts[0] and "無法成立" in texts[1]
    assert await (await client.get("/api/reviews", headers=AUTH)).json() == []


async def test_two_staff_pressing_at_once_decide_once(client: Client, runtime: Runtime) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A1+1")])
    (item,) = await (await client.get("/api/reviews", headers=AUTH)).json()
    presses = await asyncio.gather(
        *(
            client.post(
                f"/api/reviews/{item['id']}",
                headers=AUTH,
                json={"choice": n % 4, "staff": f"staff{n}"},
            )
            for n in range(6)
        )
    )
    assert sorted(p.status for p in presses) == [200, 409, 409, 409, 409, 409]
    assert sum((await cart(runtime, "u1")).values()) == 1
    assert len(await reply_texts(runtime)) == 1


async def test_bad_choices_are_refused(client: Client, runtime: Runtime) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A1+1")])
    (item,) = await (await client.get("/api/reviews", headers=AUTH)).json()
    for choice, status in ((9, 422), ("maybe", 422), (True, 400)):
        response = await client.post(
            f"/api/reviews/{item['id']}", headers=AUTH, json={"choice": choice}
        )
        assert response.status == status
    assert (await client.post("/api/reviews/999", headers=AUTH, json={"choice": 0})).status == 404


async def test_a_blocked_buyers_uncertain_comment_says_so_and_orders_only_knowingly(
    client: Client, runtime: Runtime
) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1"), ("u2", "A2+1")])
    await block(runtime, "u1")
    await comment_on(runtime, [("u1", "A1+1"), ("u2", "A1+1")], start=10)
    waiting = await (await client.get("/api/reviews", headers=AUTH)).json()
    assert [
        (w["comment"]["author"]["id"], w["reason"].startswith("the buyer is blocked; "))
        for w in waiting
    ] == [("u1", True), ("u2", False)]
    # Staff see the block on the card: choosing a reading orders anyway.
    chosen = await client.post(
        f"/api/reviews/{waiting[0]['id']}", headers=AUTH, json={"choice": 0, "staff": "Mei"}
    )
    assert chosen.status == 200
    assert await cart(runtime, "u1") == {"A2": 1, "A1-RED-M": 1}
    # Blocked after the card was made: no order without a decision that knows it.
    await block(runtime, "u2")
    refused = await client.post(
        f"/api/reviews/{waiting[1]['id']}", headers=AUTH, json={"choice": 0, "staff": "Mei"}
    )
    assert refused.status == 409
    assert "blocked" in (await refused.json())["error"]
    assert await cart(runtime, "u2") == {"A2": 1}
    assert await stock_of(runtime, "A1-RED-M") == (20, 1, 19)
    rejected = await client.post(
        f"/api/reviews/{waiting[1]['id']}", headers=AUTH, json={"choice": "reject", "staff": "Mei"}
    )
    assert rejected.status == 200


async def test_a_staff_name_longer_than_kept_is_refused_and_the_review_stays_open(
    client: Client, runtime: Runtime
) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A1+1")])
    (item,) = await (await client.get("/api/reviews", headers=AUTH)).json()
    path = f"/api/reviews/{item['id']}"
    refused = await client.post(path, headers=AUTH, json={"choice": 0, "staff": "M" * 201})
    assert refused.status == 422
    assert (await refused.json())["error"] == '"staff" is at most 200 characters.'
    assert [w["id"] for w in await (await client.get("/api/reviews", headers=AUTH)).json()] == [
        item["id"]
    ]
    assert (await client.post(path, headers=AUTH, json={"choice": 0, "staff": "M" * 200})).ok

"""The staff API of contract.md on the real app: lives, orders, inventory."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.runtime import Runtime
from bot.sweeper import sweep
from storage.types import utcnow
from tests.checkout.support import lines_of, open_order
from tests.conftest import STAFF_TOKEN
from tests.pipeline import LINEUP, PAGE, VIDEO, comment_on
from tests.test_sweeper import events_of, total_of
from webhooks.app import build_app

AUTH = {"Authorization": f"Bearer {STAFF_TOKEN}"}
Client = TestClient[object, object]


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app(runtime))) as test_client:
        yield test_client


async def start(client: Client, **extra: object) -> dict[str, object]:
    response = await client.post(
        "/api/lives",
        headers=AUTH,
        json={
            "platform": "facebook",
            "page_id": PAGE,
            "video_id": VIDEO,
            "lineup_csv": LINEUP,
            **extra,
        },
    )
    assert response.status == 201, await response.text()
    body: dict[str, object] = await response.json()
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/lives"),
        ("GET", "/api/lives/1"),
        ("POST", "/api/lives/1/current"),
        ("POST", "/api/lives/1/end"),
        ("GET", "/api/lives/1/orders"),
        ("GET", "/api/inventory"),
        ("POST", "/api/inventory/adjust"),
    ],
)
async def test_every_staff_route_wants_the_token(client: Client, method: str, path: str) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": STAFF_TOKEN},
        {"Authorization": f"Basic {STAFF_TOKEN}"},
        {"Authorization": f"Bearer {STAFF_TOKEN.upper()}x"},
    ):
        response = await client.request(method, path, headers=headers)
        assert response.status == 401
        assert "staff token" in (await response.json())["error"]


async def test_the_scheme_of_the_token_may_be_written_in_any_case(client: Client) -> None:
    for scheme in ("Bearer", "bearer", "BEARER"):
        response = await client.get(
            "/api/inventory", headers={"Authorization": f"{scheme} {STAFF_TOKEN}"}
        )
        assert response.status == 200, scheme


async def test_a_live_from_start_to_figures(client: Client, runtime: Runtime) -> None:
    live = await start(client, title="Friday sale")
    assert live["status"] == "live" and live["title"] == "Friday sale"
    current = await client.post(
        f"/api/lives/{live['id']}/current", headers=AUTH, json={"keyword": "c7"}
    )
    assert (await current.json())["current"] == "C7"
    await comment_on(runtime, [("u1", "+2"), ("u2", "A2+1"), ("u2", "好可愛"), ("u3", "A1+1")])
    shown = await (await client.get(f"/api/lives/{live['id']}", headers=AUTH)).json()
    assert shown["comments_received"] == 4
    assert shown["comments_processed"] == 4
    assert shown["orders"] == 2
    assert shown["units_reserved"] == 3
    orders = await (await client.get(f"/api/lives/{live['id']}/orders", headers=AUTH)).json()
    assert [(o["buyer"]["id"], o["lines"], o["total"], o["status"]) for o in orders] == [
        ("u1", [{"sku": "C7", "quantity": 2, "price": 260.0}], 520.0, "reserved"),
        ("u2", [{"sku": "A2", "quantity": 1, "price": 590.0}], 590.0, "reserved"),
    ]
    assert all("/checkout/" in o["checkout_url"] for o in orders)
    ended = await (await client.post(f"/api/lives/{live['id']}/end", headers=AUTH)).json()
    assert ended["status"] == "replay" and ended["replay_deadline"]


async def test_a_lives_orders_are_the_carts_holding_stock_as_its_report_counts(
    client: Client, runtime: Runtime
) -> None:
    live = await start(client)
    await comment_on(runtime, [("u1", "A2+1"), ("u2", "C7+1")])
    # Every cart lapses unpaid: expired orders are counted by status but are orders no more.
    await sweep(runtime, utcnow() + runtime.settings.hold_for + timedelta(seconds=1))
    await comment_on(runtime, [("u3", "A2+2")], start=3)
    shown = await (await client.get(f"/api/lives/{live['id']}", headers=AUTH)).json()
    report = await (await client.get(f"/api/lives/{live['id']}/report", headers=AUTH)).json()
    assert shown["orders"] == report["orders"] == 1
    assert shown["orders_by_status"] == report["orders_by_status"]
    assert shown["orders_by_status"] == {
        "reserved": 1,
        "confirmed": 0,
        "cancelled": 0,
        "expired": 2,
    }


async def test_a_second_live_on_a_selling_video_is_refused_unless_it_replaces(
    client: Client, runtime: Runtime
) -> None:
    first = await start(client)
    await comment_on(runtime, [("u1", "A2+1")])
    again = await client.post(
        "/api/lives",
        headers=AUTH,
        json={"page_id": PAGE, "video_id": VIDEO, "lineup_csv": LINEUP},
    )
    assert again.status == 409
    assert f"Live {first['id']} still takes orders" in (await again.json())["error"]
    await client.post(f"/api/lives/{first['id']}/end", headers=AUTH)  # a replay still sells
    assert (
        await client.post(
            "/api/lives",
            headers=AUTH,
            json={"page_id": PAGE, "video_id": VIDEO, "lineup_csv": LINEUP},
        )
    ).status == 409
    bad = await client.post(
        "/api/lives",
        headers=AUTH,
        json={"page_id": PAGE, "video_id": VIDEO, "lineup_csv": LINEUP, "replace": "yes"},
    )
    assert bad.status == 400
    second = await start(client, replace=True)
    closed = await (await client.get(f"/api/lives/{first['id']}", headers=AUTH)).json()
    assert closed["status"] == "closed"
    await comment_on(runtime, [("u2", "A2+1")], start=2)
    orders = await (await client.get(f"/api/lives/{second['id']}/orders", headers=AUTH)).json()
    assert [o["buyer"]["id"] for o in orders] == ["u2"]
    kept = await (await client.get(f"/api/lives/{first['id']}/orders", headers=AUTH)).json()
    assert [(o["buyer"]["id"], o["status"]) for o in kept] == [("u1", "reserved")]


async def test_two_starts_on_one_video_at_once_make_one_live(client: Client) -> None:
    body = {"page_id": PAGE, "video_id": VIDEO, "lineup_csv": LINEUP}
    answers = await asyncio.gather(
        *(client.post("/api/lives", headers=AUTH, json=body) for _ in range(4))
    )
    assert sorted(answer.status for answer in answers) == [201, 409, 409, 409]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"platform": "tiktok"}, 400, "platform"),
        ({"page_id": PAGE, "lineup_csv": LINEUP}, 400, "video_id"),
        ({"page_id": PAGE, "video_id": "1"}, 400, "lineup_csv"),
        ({"page_id": PAGE, "video_id": "1", "lineup_csv": "keyword,sku\nA1,X"}, 422, "line"),
        # Longer than the database keeps (PostgreSQL would refuse the row: a 500).
        (
            {"page_id": PAGE, "video_id": "1", "lineup_csv": LINEUP, "title": "t" * 201},
            422,
            "The title is longer than 200 characters.",
        ),
        (
            {"page_id": "9" * 65, "video_id": "1", "lineup_csv": LINEUP},
            422,
            "The page_id is longer than 64 characters.",
        ),
    ],
)
async def test_bad_live_requests_say_what_is_wrong(
    client: Client, body: dict[str, object], status: int, says: str
) -> None:
    response = await client.post("/api/lives", headers=AUTH, json=body)
    assert response.status == status
    assert says in (await response.json())["error"]
    assert (await client.get("/api/lives/1", headers=AUTH)).status == 404  # nothing half-made


async def test_unknown_lives_and_keywords(client: Client) -> None:
    assert (await client.get("/api/lives/999", headers=AUTH)).status == 404
    for odd in ("%C2%B2", "99999999999999999999999", "-1"):
        for path in (f"/api/lives/{odd}", f"/api/lives/{odd}/orders", f"/api/lives/{odd}/report"):
            response = await client.get(path, headers=AUTH)
            assert response.status == 404, path
            assert "There is no live" in (await response.json())["error"]
        review = await client.post(
            f"/api/reviews/{odd}", headers=AUTH, json={"choice": "reject", "staff": "Mei"}
        )
        assert review.status == 404, odd
    live = await start(client)
    response = await client.post(
        f"/api/lives/{live['id']}/current", headers=AUTH, json={"keyword": "Z9"}
    )
    assert response.status == 422
    bad_json = await client.post("/api/lives", headers=AUTH, data=b"{nope")
    assert bad_json.status == 400


async def test_inventory_adjustments_apply_once_and_refill_the_waitlist(
    client: Client, runtime: Runtime
) -> None:
    await start(client)
    await comment_on(runtime, [(f"u{n}", "蘋果+1") for n in range(10)])  # 8 in stock
    stock = {
        row["sku"]: row for row in await (await client.get("/api/inventory", headers=AUTH)).json()
    }
    assert stock["APPLE-BOX"] | {} == {
        "sku": "APPLE-BOX",
        "name": "富士蘋果禮盒",
        "on_hand": 8,
        "reserved": 8,
        "sold": 0,
        "available": 0,
    }
    restock = {"sku": "APPLE-BOX", "delta": 3, "reason": "restock", "idempotency_key": "po-1"}
    first = await (await client.post("/api/inventory/adjust", headers=AUTH, json=restock)).json()
    again = await (await client.post("/api/inventory/adjust", headers=AUTH, json=restock)).json()
    assert first["applied"] and not again["applied"]
    assert (first["on_hand"], first["reserved"], first["available"]) == (11, 10, 1)
    # The two who waited have carts now, priced, and the central store heard of them.
    for waited in ("u8", "u9"):
        order_id = await open_order(runtime, waited, 1)
        assert await lines_of(runtime, order_id) == {"APPLE-BOX": 1}
        assert await total_of(runtime, order_id) == Decimal("880.00")
        assert await events_of(runtime, order_id) == ["order.reserved"]
    for reused, says in (
        ({**restock, "sku": "A2"}, "APPLE-BOX by +3"),
        ({**restock, "delta": 4}, "+3"),
    ):
        response = await client.post("/api/inventory/adjust", headers=AUTH, json=reused)
        assert response.status == 409
        assert says in (await response.json())["error"]
    sale = {"sku": "APPLE-BOX", "delta": -2, "reason": "shop sale", "idempotency_key": "pos-9"}
    refused = await client.post("/api/inventory/adjust", headers=AUTH, json=sale)
    assert refused.status == 409
    assert "1 unit" in (await refused.json())["error"]
    for body, says in (
        ({"sku": "NOPE", "delta": 1, "idempotency_key": "k"}, "no SKU"),
        ({"sku": "A2", "delta": 1, "on_hand": 2, "idempotency_key": "k"}, "one of"),
        ({"sku": "A2", "delta": 1}, "idempotency_key"),
        ({"sku": "A2", "on_hand": 2**63 - 1, "idempotency_key": "k"}, "1,000,000,000"),
        ({"sku": "A2", "delta": -(10**10), "idempotency_key": "k"}, "1,000,000,000"),
    ):
        response = await client.post("/api/inventory/adjust", headers=AUTH, json=body)
        assert response.status in (400, 404)
        assert says in (await response.json())["error"]


async def test_one_key_sent_at_once_by_several_requests_is_applied_once(
    client: Client, runtime: Runtime
) -> None:
    await start(client)
    restock = {"sku": "A2", "delta": 5, "reason": "restock", "idempotency_key": "po-race"}
    responses = await asyncio.gather(
        *(client.post("/api/inventory/adjust", headers=AUTH, json=restock) for _ in range(8))
    )
    assert [response.status for response in responses] == [200] * 8
    bodies = [await response.json() for response in responses]
    assert sorted(body["applied"] for body in bodies) == [False] * 7 + [True]
    assert {(body["change"], body["on_hand"]) for body in bodies} == {(5, 35)}

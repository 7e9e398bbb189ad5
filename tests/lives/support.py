"""Driving lives as Meta and staff do: signed webhook deliveries, staff API calls, counts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.fakes.meta_webhooks import Change, envelope, signed_body
from bot.live_sessions import LiveSpec, start_live
from bot.runtime import Runtime
from storage.models import Identity, Order, OrderLine, OutboxMessage, Page
from tests.conftest import APP_SECRET, STAFF_TOKEN
from tests.pipeline import LINEUP, PAGE, VIDEO, comment_changes, drain
from webhooks.app import build_app

__all__ = ["LINEUP", "PAGE", "VIDEO"]

AUTH = {"Authorization": f"Bearer {STAFF_TOKEN}"}
TOKEN = "page-token-370873"  # the fake Graph API's token for PAGE
LIVE_VIDEO = "10159659015335730"  # the live video object: not the video id inside post ids
Client = TestClient[web.Request, web.Application]


@asynccontextmanager
async def app_client(runtime: Runtime) -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app(runtime))) as client:
        yield client


async def api(client: Client, method: str, path: str, body: object = None) -> object:
    """A staff API call that must succeed; its JSON answer."""
    response = await client.request(method, path, headers=AUTH, json=body)
    assert response.status < 300, f"{method} {path}: {response.status} {await response.text()}"
    answer: object = await response.json()
    return answer


async def start(client: Client, **fields: object) -> dict[str, object]:
    body = {"platform": "facebook", "page_id": PAGE, "video_id": VIDEO, "lineup_csv": LINEUP}
    answer = await api(client, "POST", "/api/lives", {**body, **fields})
    assert isinstance(answer, dict)
    return answer


async def show(client: Client, live_id: object) -> dict[str, object]:
    answer = await api(client, "GET", f"/api/lives/{live_id}")
    assert isinstance(answer, dict)
    return answer


async def deliver(
    client: Client,
    runtime: Runtime,
    kind: str,
    entries: Sequence[tuple[str, Sequence[Change]]],
    *,
    entry_time: int | None = None,
) -> None:
    """POST a signed delivery to /webhooks/meta as Meta does, then run the pipeline over it.
    `entry_time`: the entries' `time` (when Meta says the changes happened), else now."""
    payload = envelope(kind, entries)
    if entry_time is not None:
        for entry in payload["entry"]:  # type: ignore[union-attr]
            entry["time"] = entry_time  # type: ignore[index]
    body, headers = signed_body(payload, APP_SECRET)
    response = await client.post("/webhooks/meta", data=body, headers=headers)
    assert response.status == 200, await response.text()
    await drain(runtime)


def comments(
    authored: Sequence[tuple[str, str]],
    *,
    start: int,
    video_id: str = VIDEO,
    page_id: str = PAGE,
) -> list[Change]:
    """Facebook comments (author, text) numbered from `start`: ids `{video}_{n}`."""
    return comment_changes(authored, start=start, video_id=video_id, page_id=page_id)


async def start_polled_live(runtime: Runtime, *, token: str | None = TOKEN) -> int:
    """A live registered with its live video id (as `livecart live start --live-video-id`),
    on a Page whose token was added (as `livecart pages add`)."""
    async with runtime.sessions.begin() as session:
        live = await start_live(
            session, LiveSpec(platform="facebook", page_id=PAGE, video_id=VIDEO, lineup_csv=LINEUP)
        )
        live.live_video_id = LIVE_VIDEO
        if token is not None:
            session.add(Page(platform="facebook", page_id=PAGE, access_token=token))
        return live.id


async def carts(runtime: Runtime, live_id: int) -> dict[str, dict[str, int]]:
    """Each buyer's open cart in the live, by the buyer's platform id."""
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(Identity.scoped_id, OrderLine.sku, OrderLine.quantity)
            .join(Order, Order.id == OrderLine.order_id)
            .join(Identity, Identity.id == Order.identity_id)
            .where(Order.live_id == live_id, Order.status == "reserved", OrderLine.quantity > 0)
        )
        found: dict[str, dict[str, int]] = {}
        for buyer, sku, quantity in rows.all():
            found.setdefault(buyer, {})[sku] = quantity
        return found


async def reply_texts(runtime: Runtime) -> dict[str, str]:
    """Replies in the outbox by the comment they answer."""
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.kind == "reply")
        )
        return {str(p["comment_id"]): str(p["text"]) for p in rows.all()}


async def count(runtime: Runtime, model: type, *where: object) -> int:
    async with runtime.sessions() as session:
        statement = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
        return int(await session.scalar(statement) or 0)

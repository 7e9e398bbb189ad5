"""Staff API for lives: start one, the product on screen, end it, its figures and orders."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import live_sessions
from bot.checkout_token import checkout_url
from bot.live_sessions import LiveClash, LiveRefused, LiveSpec
from storage.models import ORDER_STATUSES, STANDING_ORDERS, Comment, Live, Order, OrderLine
from storage.orders import snapshots
from storage.types import typed_id
from webhooks.keys import RUNTIME
from webhooks.responses import BadRequest, JsonObject, json_body, json_response


async def create(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    spec = _spec(await json_body(request))
    # One start at a time in this process (SQLite reads outside its write transaction; on
    # PostgreSQL an advisory lock in start_live serializes every process's starts).
    async with runtime.writers.turn(), runtime.sessions.begin() as session:
        try:
            live = await live_sessions.start_live(session, spec)
        except LiveClash as clash:
            raise BadRequest(str(clash), status=409) from None
        except LiveRefused as refused:
            raise BadRequest(str(refused), status=422) from None
        body = await live_json(session, live)
        skus = await live_sessions.lineup_skus(session, live.id)
    await runtime.stock.restocked(skus)
    return json_response(body, status=201)


async def show(request: web.Request) -> web.Response:
    async with request.app[RUNTIME].sessions() as session:
        live = await _live(session, request)
        return json_response(await live_json(session, live))


async def set_current(request: web.Request) -> web.Response:
    body = await json_body(request)
    keyword = body.get("keyword")
    if keyword is not None and (not isinstance(keyword, str) or not keyword.strip()):
        raise BadRequest('"keyword" must be a lineup keyword such as "A1" (or null).')
    async with request.app[RUNTIME].sessions.begin() as session:
        live = await _live(session, request)
        try:
            live_sessions.set_current(live, keyword.strip() if keyword else None)
        except LiveRefused as refused:
            raise BadRequest(str(refused), status=422) from None
        return json_response(await live_json(session, live))


async def end(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.sessions.begin() as session:
        live = await _live(session, request)
        try:
            live_sessions.end(live, runtime.settings.replay_window)
        except LiveRefused as refused:
            raise BadRequest(str(refused), status=409) from None
        return json_response(await live_json(session, live))


async def orders(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.sessions() as session:
        live = await _live(session, request)
        ids = (
            await session.scalars(
                select(Order.id).where(Order.live_id == live.id).order_by(Order.id)
            )
        ).all()
        found = await snapshots(session, ids)
    settings = runtime.settings
    return json_response(
        [
            {
                "id": order.id,
                "status": order.status,
                "buyer": {
                    "platform": order.buyer_platform,
                    "id": order.buyer_id,
                    "name": order.buyer_name,
                },
                "lines": [
                    {"sku": line.sku, "quantity": line.quantity, "price": float(line.unit_price)}
                    for line in order.lines
                ],
                "total": float(order.total),
                "checkout_url": checkout_url(
                    settings.public_url, order.id, runtime.checkout_secret
                ),
            }
            for order in (found[i] for i in ids)
        ]
    )


async def live_json(session: AsyncSession, live: Live) -> JsonObject:
    received, processed = (
        await session.execute(
            select(
                func.count(func.distinct(Comment.comment_id)),
                func.count(func.distinct(Comment.comment_id)).filter(Comment.status == "processed"),
            ).where(Comment.live_id == live.id, Comment.verb == "add")
        )
    ).one()
    by_status = await session.execute(
        select(Order.status, func.count()).where(Order.live_id == live.id).group_by(Order.status)
    )
    counted: dict[str, int] = {status: count for status, count in by_status.all()}
    reserved = await session.scalar(
        select(func.coalesce(func.sum(OrderLine.quantity), 0))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.live_id == live.id, Order.status == "reserved")
    )
    return {
        "id": live.id,
        "platform": live.platform,
        "page_id": live.page_id,
        "video_id": live.video_id,
        "live_video_id": live.live_video_id,
        "post_id": live.post_id,
        "title": live.title,
        "status": live.status,
        "current": live.current_keyword,
        "started_at": live.started_at.isoformat(),
        "ended_at": live.ended_at.isoformat() if live.ended_at else None,
        "replay_deadline": live.replay_deadline.isoformat() if live.replay_deadline else None,
        "comments_received": int(received),
        "comments_processed": int(processed),
        # As `live list` and the report count them: carts that hold or bought stock.
        "orders": sum(counted.get(status, 0) for status in STANDING_ORDERS),
        "orders_by_status": {status: counted.get(status, 0) for status in ORDER_STATUSES},
        "units_reserved": int(reserved or 0),
    }


async def _live(session: AsyncSession, request: web.Request) -> Live:
    raw = request.match_info["live_id"]
    live_id = typed_id(raw)
    live = await session.get(Live, live_id) if live_id is not None else None
    if live is None:
        raise BadRequest(f"There is no live {raw}.", status=404)
    return live


def _spec(body: JsonObject) -> LiveSpec:
    platform = body.get("platform", "facebook")
    if platform not in ("facebook", "instagram"):
        raise BadRequest('"platform" must be "facebook" or "instagram".')
    page_id = _text(body, "page_id", required=True)
    video_id = _text(body, "video_id")
    post_id = _text(body, "post_id")
    if video_id is None and post_id is None:
        raise BadRequest('A live needs "video_id" (or "post_id" for a post sale).')
    lineup = body.get("lineup_csv")
    if not isinstance(lineup, str) or not lineup.strip():
        raise BadRequest('"lineup_csv" must hold the lineup as CSV text.')
    replace = body.get("replace", False)
    if not isinstance(replace, bool):
        raise BadRequest('"replace" must be true or false.')
    assert page_id is not None
    return LiveSpec(
        platform=platform,
        page_id=page_id,
        video_id=video_id,
        post_id=post_id,
        title=_text(body, "title"),
        lineup_csv=lineup,
        live_video_id=_text(body, "live_video_id"),
        replace=replace,
    )


def _text(body: JsonObject, name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or value == "":
        if required:
            raise BadRequest(f'"{name}" is required.')
        return None
    if not isinstance(value, str):
        raise BadRequest(f'"{name}" must be a string.')
    return value.strip()

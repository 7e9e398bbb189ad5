"""Staff API for the shared stock: levels, and adjustments from the shops and the web store."""

from __future__ import annotations

from aiohttp import web

from bot.inventory import Adjusted, Adjustment, KeyReused, UnknownSku, adjust
from parsers.lineup import MOST_UNITS
from storage.db import retrying_races
from storage.stock import StockRefused, levels
from storage.types import utcnow
from webhooks.keys import RUNTIME
from webhooks.responses import BadRequest, JsonObject, json_body, json_response


async def list_stock(request: web.Request) -> web.Response:
    async with request.app[RUNTIME].sessions() as session:
        found = await levels(session)
    return json_response(
        [
            {
                "sku": level.sku,
                "name": level.name,
                "on_hand": level.on_hand,
                "reserved": level.reserved,
                "sold": level.sold,
                "available": level.available,
            }
            for level in found
        ]
    )


async def adjust_stock(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    adjustment = _adjustment(await json_body(request))

    async def apply() -> Adjusted:
        async with runtime.sessions.begin() as session:
            return await adjust(
                session, runtime.stock, adjustment, now=utcnow(), hold_for=runtime.settings.hold_for
            )

    try:
        # A race: the same key applied by a request running beside this one (the next try
        # answers as for a repeat), or a cart opened by a batch beside the waitlist fill.
        result = await retrying_races(apply, f"an adjustment of {adjustment.sku}")
    except UnknownSku:
        raise BadRequest(f"There is no SKU {adjustment.sku}.", status=404) from None
    except (StockRefused, KeyReused) as refused:
        raise BadRequest(f"Refused: {refused}.", status=409) from None
    # Also after a repeat: a try that rolled back may have moved Redis's counter.
    await runtime.stock.restocked([adjustment.sku])
    async with runtime.sessions() as session:
        (level,) = await levels(session, [adjustment.sku])
    return json_response(
        {
            "sku": level.sku,
            "applied": result.applied,
            "change": result.change,
            "on_hand": level.on_hand,
            "reserved": level.reserved,
            "sold": level.sold,
            "available": level.available,
        }
    )


def _adjustment(body: JsonObject) -> Adjustment:
    sku, key, reason = body.get("sku"), body.get("idempotency_key"), body.get("reason", "")
    if not isinstance(sku, str) or not sku:
        raise BadRequest('"sku" is required.')
    if not isinstance(key, str) or not key or len(key) > 200:
        raise BadRequest('"idempotency_key" is required (a string of at most 200 characters).')
    if not isinstance(reason, str):
        raise BadRequest('"reason" must be a string.')
    delta, on_hand = body.get("delta"), body.get("on_hand")
    if (delta is None) == (on_hand is None):
        raise BadRequest('Give exactly one of "delta" or "on_hand".')
    for name, value in (("delta", delta), ("on_hand", on_hand)):
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadRequest(f'"{name}" must be a whole number.')
        if abs(value) > MOST_UNITS:
            raise BadRequest(f'"{name}" cannot be more than {MOST_UNITS:,} units.')
    if isinstance(on_hand, int) and on_hand < 0:
        raise BadRequest('"on_hand" cannot be negative.')
    return Adjustment(sku, delta, on_hand, reason, key)  # type: ignore[arg-type]

"""`GET /api/events?after=ID&limit=N`: the order events, for a central store that pulls.

The same events the store sync pushes, in id order, whether or not they were pushed. A client
keeps `next_after` and asks again with it; an empty page answers the `after` it was given.
"""

from __future__ import annotations

from aiohttp import web

from storage.outbox import EventsBusy, StoreEvent, events_after
from storage.types import LARGEST_ID, typed_id
from webhooks.keys import RUNTIME
from webhooks.responses import BadRequest, error, json_response

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


async def events(request: web.Request) -> web.Response:
    after = _whole_number(request, "after", default=0, lowest=0, highest=LARGEST_ID)
    limit = _whole_number(request, "limit", default=DEFAULT_LIMIT, lowest=1, highest=MAX_LIMIT)
    try:
        async with request.app[RUNTIME].sessions() as session:
            found = await events_after(session, after, limit)
    except EventsBusy as busy:
        answer = error(503, f"{busy}.")
        answer.headers["Retry-After"] = "1"
        return answer
    return json_response(
        {
            "events": [_event(event) for event in found],
            "next_after": found[-1].id if found else after,
        }
    )


def _event(event: StoreEvent) -> dict[str, object]:
    return {
        "id": event.id,
        "event": event.event,
        "order_id": event.order_id,
        "occurred_at": event.occurred_at.isoformat(),
        "data": event.data,
    }


def _whole_number(
    request: web.Request, name: str, *, default: int, lowest: int, highest: int
) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    value = typed_id(raw)
    if value is None or not lowest <= value <= highest:
        raise BadRequest(
            f"{name} must be a whole number from {lowest} to {highest} (got {raw[:40]!r})."
        )
    return value

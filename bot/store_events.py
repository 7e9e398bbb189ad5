"""Order events for the shop's central store, written to the outbox (sent in order per order)."""

from __future__ import annotations

import random
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from storage import orders
from storage.orders import OrderSnapshot
from storage.outbox import Outgoing, add_outbox


def order_event(
    event: str, order: OrderSnapshot, extra: Mapping[str, object] | None = None
) -> Outgoing:
    """`event` is order.reserved, order.updated, order.confirmed, order.cancelled or
    order.expired; the key is unique per event, the partition keeps one order's events in order.
    `extra` adds to the order's snapshot (a confirmation's customer, say)."""
    return Outgoing(
        "store_event",
        f"{event}:{order.id}:{_unique()}",
        f"order:{order.id}",
        {"event": event, "order_id": order.id, "data": {**order.as_json(), **(extra or {})}},
    )


async def write_order_events(
    session: AsyncSession,
    events: Mapping[int, str],
    extra: Mapping[int, Mapping[str, object]] | None = None,
) -> None:
    """One event per order (its id to its event name), with the order as it is now."""
    found = await orders.snapshots(session, events)
    await add_outbox(
        session,
        [
            order_event(event, found[order_id], (extra or {}).get(order_id))
            for order_id, event in sorted(events.items())
        ],
    )


def _unique() -> str:
    # 128 random bits: as unique as uuid4, without a system call per event (the random module
    # reseeds itself in a forked child).
    return f"{random.getrandbits(128):032x}"

"""Order events for the shop's central store, written to the outbox (sent in order per order)."""

from __future__ import annotations

import random

from storage.orders import OrderSnapshot
from storage.outbox import Outgoing


def order_event(event: str, order: OrderSnapshot) -> Outgoing:
    """`event` is order.reserved, order.updated, order.confirmed, order.cancelled or
    order.expired; the key is unique per event, the partition keeps one order's events in order."""
    return Outgoing(
        "store_event",
        f"{event}:{order.id}:{_unique()}",
        f"order:{order.id}",
        {"event": event, "order_id": order.id, "data": order.as_json()},
    )


def _unique() -> str:
    # 128 random bits: as unique as uuid4, without a system call per event (the random module
    # reseeds itself in a forked child).
    return f"{random.getrandbits(128):032x}"

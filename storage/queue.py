"""The delivery queue between the webhook routes and the pipeline workers (two backends)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class QueuedDelivery:
    id: str
    body: bytes


class DeliveryQueue(Protocol):
    async def put(self, body: bytes) -> None:
        """Returns once the delivery is durably queued (writes are grouped)."""

    async def take(self, consumer: str, limit: int, wait: float) -> list[QueuedDelivery]:
        """Up to `limit` deliveries for `consumer`, waiting up to `wait` seconds for the first.

        A delivery taken and never acknowledged comes back to some consumer later."""

    async def ack(self, ids: Sequence[str]) -> None:
        """The deliveries are handled; they never come back."""

    async def depth(self) -> int:
        """Deliveries queued and not yet acknowledged."""

    async def close(self) -> None: ...

"""The delivery queue between the webhook routes and the pipeline workers (two backends)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class QueuedDelivery:
    id: str
    body: bytes
    # When the webhook route first queued it (its comments reached us), kept when it is
    # parked and queued again.
    received_at: datetime
    # How many times a worker has taken it, this time included.
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class ParkedDelivery:
    """A delivery that failed every time it was handled alone, set aside for staff."""

    id: str
    body: bytes
    attempts: int
    error: str
    parked_at: datetime
    received_at: datetime


class DeliveryQueue(Protocol):
    async def put(self, body: bytes) -> None:
        """Returns once the delivery is durably queued (writes are grouped)."""

    async def take(self, consumer: str, limit: int, wait: float) -> list[QueuedDelivery]:
        """Up to `limit` deliveries for `consumer`, waiting up to `wait` seconds for the first.

        A delivery taken and never acknowledged comes back to some consumer later."""

    async def ack(self, ids: Sequence[str]) -> None:
        """The deliveries are handled; they never come back."""

    async def park(self, failed: Sequence[tuple[QueuedDelivery, str]]) -> None:
        """The deliveries leave the queue for the parked list, each with its error."""

    async def parked(self, limit: int) -> tuple[int, list[ParkedDelivery]]:
        """How many deliveries are parked, and the oldest `limit` of them."""

    async def unpark(self) -> int:
        """Every parked delivery goes back into the queue, oldest first; returns how many."""

    async def depth(self) -> int:
        """Deliveries queued and not yet acknowledged."""

    async def close(self) -> None: ...

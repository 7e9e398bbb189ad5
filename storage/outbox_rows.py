"""Writing outward messages into the outbox, inside the transaction that caused them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_of, insert_ignoring_duplicates
from storage.models import JsonObject, OutboxMessage
from storage.types import utcnow


@dataclass(frozen=True, slots=True)
class Outgoing:
    kind: str
    key: str
    partition: str
    payload: JsonObject


async def add_outbox(session: AsyncSession, messages: Sequence[Outgoing]) -> None:
    """A message whose key is already in the outbox is not written again."""
    if not messages:
        return
    now = utcnow()
    await session.execute(
        insert_ignoring_duplicates(dialect_of(session), OutboxMessage),
        [
            {
                "kind": m.kind,
                "key": m.key,
                "partition": m.partition,
                "payload": m.payload,
                "status": "pending",
                "attempts": 0,
                "available_at": now,
                "created_at": now,
            }
            for m in messages
        ],
    )

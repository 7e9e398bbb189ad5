"""The one stock interface and its two backends: SQL alone, or a Redis gate in front of SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from storage import stock
from storage.redis_stock import RedisStockGate
from storage.stock import StockRequest, by_sku


class Stock(Protocol):
    async def reserve(
        self, session: AsyncSession, requests: Sequence[StockRequest]
    ) -> dict[str, int]:
        """Units taken per request ref, first come first served; recorded in `session`."""

    async def release(
        self, session: AsyncSession, requests: Sequence[StockRequest], reason: str
    ) -> None:
        """Reserved units become available again."""

    async def sell(self, session: AsyncSession, requests: Sequence[StockRequest]) -> None:
        """Reserved units become sold."""

    async def on_hand_changed(self, sku: str, change: int) -> None:
        """On-hand stock changed in this (uncommitted) transaction: the waitlist may fill now."""

    async def restocked(self, skus: Sequence[str]) -> None:
        """On-hand stock of these SKUs changed in SQL (committed)."""


class SqlStock:
    """The embedded default: SQL's conditional UPDATE is both the gate and the record."""

    async def reserve(
        self, session: AsyncSession, requests: Sequence[StockRequest]
    ) -> dict[str, int]:
        return await stock.reserve(session, requests)

    async def release(
        self, session: AsyncSession, requests: Sequence[StockRequest], reason: str
    ) -> None:
        await stock.release(session, requests, reason)

    async def sell(self, session: AsyncSession, requests: Sequence[StockRequest]) -> None:
        await stock.sell(session, requests)

    async def on_hand_changed(self, sku: str, change: int) -> None:
        return None

    async def restocked(self, skus: Sequence[str]) -> None:
        return None


class RedisStock:
    """Redis answers first (sold-out demand never touches a SQL row); SQL still decides what
    Redis granted, and a counter SQL disagrees with is dropped and reloaded from SQL."""

    def __init__(self, gate: RedisStockGate) -> None:
        self.gate = gate

    async def reserve(
        self, session: AsyncSession, requests: Sequence[StockRequest]
    ) -> dict[str, int]:
        gated = await self.gate.take(requests)
        passed = [StockRequest(r.ref, r.sku, gated[r.ref]) for r in requests if gated.get(r.ref)]
        granted = await stock.reserve(session, passed)
        drifted = [
            sku
            for sku, queue in by_sku(passed).items()
            if sum(granted[r.ref] for r in queue) < sum(r.quantity for r in queue)
        ]
        await self.gate.forget(drifted)
        return {r.ref: granted.get(r.ref, 0) for r in requests}

    async def release(
        self, session: AsyncSession, requests: Sequence[StockRequest], reason: str
    ) -> None:
        await stock.release(session, requests, reason)
        await self.gate.give_back(requests, reason)

    async def sell(self, session: AsyncSession, requests: Sequence[StockRequest]) -> None:
        await stock.sell(session, requests)

    async def on_hand_changed(self, sku: str, change: int) -> None:
        await self.gate.shift(sku, change)

    async def restocked(self, skus: Sequence[str]) -> None:
        # Reload from committed SQL: repairs any drift the shift above could leave.
        await self.gate.forget(skus)

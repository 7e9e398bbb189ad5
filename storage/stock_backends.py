"""The one stock interface and its two backends: SQL alone, or a Redis gate in front of SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

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

    async def settle(self) -> None:
        """Before the process stops: undo what transactions that rolled back left behind."""


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

    async def settle(self) -> None:
        return None


# Where a session keeps the Redis takes of its open transaction.
_TAKES = "livecart.redis_takes"


class RedisStock:
    """Redis answers first (sold-out demand never touches a SQL row); SQL still decides what
    Redis granted, and a counter SQL disagrees with is dropped and reloaded from SQL.

    Redis takes happen before SQL commits. A transaction that rolls back hands its takes to
    this object, and the next reserve gives them back first: otherwise Redis would count
    those units as taken for good (a comment marked failed, or decided otherwise when run
    again, never asks for them again), and they would not sell until a restart. Counting
    too many is the safe side: SQL refuses what it does not have, and the counter reloads.
    """

    def __init__(self, gate: RedisStockGate) -> None:
        self.gate = gate
        self._rolled_back: list[StockRequest] = []

    async def reserve(
        self, session: AsyncSession, requests: Sequence[StockRequest]
    ) -> dict[str, int]:
        await self.settle()
        gated = await self.gate.take(requests)
        passed = [StockRequest(r.ref, r.sku, gated[r.ref]) for r in requests if gated.get(r.ref)]
        self._remember_takes(session.sync_session, passed)
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

    def _remember_takes(self, session: Session, takes: Sequence[StockRequest]) -> None:
        if _TAKES not in session.info:
            session.info[_TAKES] = []
            event.listen(session, "after_commit", _forget_takes)
            event.listen(session, "after_transaction_end", self._taken_in_vain)
        session.info[_TAKES].extend(takes)

    def _taken_in_vain(self, session: Session, transaction: SessionTransaction) -> None:
        """A transaction ended without committing (after_commit emptied the list otherwise)."""
        if transaction.parent is None:
            self._rolled_back.extend(session.info[_TAKES])
            session.info[_TAKES] = []

    async def settle(self) -> None:
        if not self._rolled_back:
            return
        rolled_back, self._rolled_back = self._rolled_back, []
        try:
            await self.gate.untake(rolled_back)
        except BaseException:
            self._rolled_back.extend(rolled_back)
            raise

    async def restocked(self, skus: Sequence[str]) -> None:
        # Reload from committed SQL: repairs any drift the shift above could leave.
        await self.gate.forget(skus)


def _forget_takes(session: Session) -> None:
    # Released savepoints fire after_commit too; their takes still go with the transaction.
    if not session.in_nested_transaction():
        session.info[_TAKES] = []
